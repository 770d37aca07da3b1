"""VQA pieces: soft accuracy, answer votes, referring expressions, the chance levels."""

from __future__ import annotations

import numpy as np
import pytest

from kemm.data.benchmark.chance import vqa_chance
from kemm.data.benchmark.scene import PlacedObject, Scene
from kemm.data.benchmark.vqa import answer_votes, make_questions, referring_expressions, vqa_accuracy

CS = "https://w3id.org/kemm/commonsense/"


def test_vqa_accuracy_matches_the_official_leave_one_out_metric():
    assert vqa_accuracy("metal", ["metal"] * 10) == 1.0
    assert vqa_accuracy("Metal ", ["metal"] * 4 + ["wood"] * 6) == 1.0
    assert vqa_accuracy("metal", ["metal"] * 3 + ["wood"] * 7) == pytest.approx(0.9)
    assert vqa_accuracy("metal", ["metal"] + ["wood"] * 9) == pytest.approx(0.3)
    assert vqa_accuracy("glass", ["metal"] * 10) == 0.0


def test_answer_votes(tiny_knowledge):
    apple_uses = answer_votes(tiny_knowledge, (CS + "eating",))
    assert sorted(set(apple_uses)) == [("eat", "eat"), ("eating", "eating")]
    assert len(apple_uses) == 10 and [a for _, a in apple_uses].count("eating") >= 4
    two = answer_votes(tiny_knowledge, (CS + "drawing", CS + "writing"))
    answers = [a for _, a in two]
    assert vqa_accuracy("drawing", answers) == vqa_accuracy("writing", answers) == 1.0
    three = [a for _, a in answer_votes(tiny_knowledge, (CS + "metal", CS + "wood", CS + "paper"))]
    assert len(three) == 10 and all(vqa_accuracy(x, three) >= 0.9 for x in ("metal", "wood", "paper"))


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


def test_vqa_chance_levels():
    def ann(t, answers):
        return {"question_type": t, "answers": [{"answer": a} for a in answers]}

    anns = [
        ann("MadeOf", ["metal"] * 10),
        ann("MadeOf", ["metal"] * 10),
        ann("MadeOf", ["wood"] * 10),
        ann("UsedFor", ["cutting"] * 10),
    ]
    ch = vqa_chance(anns, [ann("MadeOf", ["wood"] * 10)])
    made = ch["per_question_type"]["MadeOf"]
    assert made["best_constant"] == {"answer": "metal", "accuracy": pytest.approx(2 / 3)}
    assert made["uniform"]["accuracy"] == pytest.approx(
        0.5
    )  # two answers, each right on average half the time
    assert made["train_prior"] == {"answer": "wood", "accuracy": pytest.approx(1 / 3)}
    assert ch["overall"]["best_constant"] == pytest.approx((2 + 1) / 4)
