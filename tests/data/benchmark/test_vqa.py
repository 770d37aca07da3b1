"""VQA pieces: answer votes, referring expressions, the chance levels (the metric: tests/evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from kemm.data.benchmark.chance import cloze_chance, multiple_choice_chance, vqa_chance
from kemm.data.benchmark.scene import PlacedObject, Scene
from kemm.data.benchmark.vqa import answer_votes, make_questions, referring_expressions
from kemm.evaluation.metrics import vqa_soft_accuracy

CS = "https://w3id.org/kemm/commonsense/"


def test_answer_votes(tiny_knowledge):
    apple_uses = answer_votes(tiny_knowledge, (CS + "eating",))
    assert sorted(set(apple_uses)) == [("eat", "eat"), ("eating", "eating")]
    assert len(apple_uses) == 10 and [a for _, a in apple_uses].count("eating") >= 4
    two = answer_votes(tiny_knowledge, (CS + "drawing", CS + "writing"))
    answers = [a for _, a in two]
    assert vqa_soft_accuracy("drawing", answers) == vqa_soft_accuracy("writing", answers) == 1.0
    three = [a for _, a in answer_votes(tiny_knowledge, (CS + "metal", CS + "wood", CS + "paper"))]
    assert len(three) == 10 and all(vqa_soft_accuracy(x, three) >= 0.9 for x in ("metal", "wood", "paper"))


def _obj(key: str, x: int, y: int, w: int = 20, colour: str | None = None) -> PlacedObject:
    mask = np.zeros((100, 100), bool)
    mask[y : y + w, x : x + w] = True
    return PlacedObject(CS + key, (x, y, w, w), w * w, 1.0, mask, colour)


def test_referring_expressions_are_unambiguous(tiny_knowledge):
    scene = Scene(
        np.zeros((100, 100, 3), np.uint8),
        [_obj("apple", 5, 40, colour="red"), _obj("knife", 70, 40)],
        "solid",
    )
    apple = {text for _, text, _ in referring_expressions(scene, 0, tiny_knowledge, lambda k: True, 100)}
    knife = {text for _, text, _ in referring_expressions(scene, 1, tiny_knowledge, lambda k: True, 100)}
    assert (
        "the object on the left" in apple
        and "the red object" in apple
        and "the thing next to the knife" in apple
    )
    assert "the object on the right" in knife and "the object on the left" not in knife
    assert not any("apple" in t for t in apple)  # never the object's own name
    # a neighbour that may not be named (a held-out entity in a training question) is not named
    hidden = {text for _, text, _ in referring_expressions(scene, 0, tiny_knowledge, lambda k: False, 100)}
    assert not any("knife" in t for t in hidden)
    # side by side at the same height: neither is "at the top"
    assert not any("top" in t for t in apple | knife)


def test_make_questions_respects_the_subject_filter(tiny_knowledge):
    scene = Scene(np.zeros((100, 100, 3), np.uint8), [_obj("apple", 5, 40), _obj("knife", 70, 40)], "solid")
    rng = np.random.default_rng(0)
    qs = make_questions(rng, scene, tiny_knowledge, lambda k: k == CS + "knife", lambda k: True, 5, 100)
    assert qs and all(q.subject == CS + "knife" for q in qs)
    assert len({q.relation for q in qs}) == len(qs)
    # HasProperty "red" of the apple is visible: it is never asked
    apple_qs = make_questions(rng, scene, tiny_knowledge, lambda k: k == CS + "apple", lambda k: True, 9, 100)
    assert all(not (q.relation == "HasProperty" and CS + "red" in q.objects) for q in apple_qs)


def _ann(t, answers):
    return {"question_type": t, "answers": [{"answer": a} for a in answers]}


def test_vqa_chance_levels():
    train = [
        _ann("MadeOf", ["wood"] * 10),
        _ann("MadeOf", ["wood"] * 6 + ["metal"] * 4),
        _ann("MadeOf", ["metal"] * 10),
        _ann("IsA", ["fruit"] * 10),
    ]
    test = [
        _ann("MadeOf", ["metal"] * 10),
        _ann("MadeOf", ["metal"] * 10),
        _ann("MadeOf", ["wood"] * 10),
        _ann("UsedFor", ["cutting"] * 10),
    ]
    ch = vqa_chance(test, train)
    made = ch["per_question_type"]["MadeOf"]
    # the baseline: "wood" tops 2 of the 3 training questions; right on 1 of 3 test questions
    assert made["train_prior"] == {"answer": "wood", "accuracy": pytest.approx(1 / 3)}
    # uniform over the training answers {metal, wood}: (2/3 + 1/3) / 2
    assert made["uniform"] == {"vocabulary": 2, "accuracy": pytest.approx(0.5)}
    # chosen on the test answers themselves: an oracle, better than any prior
    assert made["oracle_best_constant"] == {"answer": "metal", "accuracy": pytest.approx(2 / 3)}
    # a type without training questions falls back to the most frequent training answer overall
    used = ch["per_question_type"]["UsedFor"]
    assert used["train_prior"] == {"answer": "wood", "accuracy": 0.0}
    assert used["uniform"] == {"vocabulary": 3, "accuracy": 0.0}
    assert used["oracle_best_constant"] == {"answer": "cutting", "accuracy": 1.0}
    assert ch["overall"] == {
        "train_prior": pytest.approx((1 + 0) / 4),
        "uniform": pytest.approx((3 * 0.5 + 0) / 4),
        "oracle_best_constant": pytest.approx((2 + 1) / 4),
    }
    assert "best_constant" not in ch["overall"]  # the test-chosen constant only under its oracle name


def test_vqa_chance_scores_with_the_official_metric():
    # "4 legs" is how VQA stores "four legs": a prior "four legs" is normalised to it and matches
    ch = vqa_chance([_ann("HasA", ["4 legs"] * 10)], [_ann("HasA", ["four legs"] * 10)])
    assert ch["overall"]["train_prior"] == 1.0 and ch["overall"]["uniform"] == 1.0
    # an unnormalised unanimous human answer can never be matched, not even by an oracle
    ch = vqa_chance([_ann("HasA", ["four legs"] * 10)], [_ann("HasA", ["four legs"] * 10)])
    assert ch["overall"] == {"train_prior": 0.0, "uniform": 0.0, "oracle_best_constant": 0.0}
    assert ch["per_question_type"]["HasA"]["oracle_best_constant"]["answer"] is None


def test_vqa_chance_rejects_empty_splits():
    with pytest.raises(ValueError, match="no questions"):
        vqa_chance([], [_ann("IsA", ["fruit"] * 10)])
    with pytest.raises(ValueError, match="no training questions"):
        vqa_chance([_ann("IsA", ["fruit"] * 10)], [])


def test_multiple_choice_and_cloze_chance():
    assert multiple_choice_chance(5) == {"accuracy": 0.2, "choices": 5}
    assert cloze_chance(["a", "b"], ["a", "b", "c", "d"]) == {"vocabulary": 4, "accuracy": 0.25, "probes": 2}
    with pytest.raises(ValueError):
        multiple_choice_chance(0)
    with pytest.raises(ValueError, match="empty candidate vocabulary"):
        cloze_chance(["a"], [])
