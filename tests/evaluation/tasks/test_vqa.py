"""``okvqa`` scoring: the official soft accuracy; out-of-vocabulary gold answers counted, not dropped."""

from __future__ import annotations

import pytest

from kemm.data import ImageRef, VQAExample
from kemm.errors import InputError, KemmError
from kemm.evaluation.answers import AnswerVocabulary
from kemm.evaluation.tasks.vqa import score_vqa, train_prior_answers


def _q(qid, answers, qtype="MadeOf"):
    return VQAExample(
        question_id=qid,
        image_id=1,
        image=ImageRef(key="x"),
        question="?",
        answers=answers,
        question_type=qtype,
    )


TEST = [_q(1, ["wood"] * 4 + ["metal"] * 6), _q(2, ["2"] * 10, "HasA"), _q(3, ["ski"] * 10, "UsedFor")]
TRAIN = [_q(10, ["wood"] * 10), _q(11, ["metal"] * 10), _q(12, ["wood"] * 10), _q(13, ["2"] * 10, "HasA")]


def test_soft_accuracy_as_the_official_code_and_oov_counted():
    vocab = AnswerVocabulary.from_examples(TRAIN)
    res, preds = score_vqa("okvqa", TEST, {"1": "wood", "2": "two", "3": "ski"}, vocab)
    # wood: 4 of 10 humans -> 1.0; "two" is normalised to "2" -> 1.0; ski: right, though not a training answer
    assert [p.correct for p in preds] == [1.0, 1.0, 1.0] and res.metrics == {"vqa_accuracy": 1.0}
    assert res.counts == {"examples": 3, "oov_gold": 1, "answer_vocabulary": 3}
    assert res.groups["gold_oov"] == {"vqa_accuracy": 1.0, "count": 1}
    assert set(res.per_relation) == {"MadeOf", "HasA", "UsedFor"}
    res, preds = score_vqa("okvqa", TEST, {"1": "metal", "2": "3", "3": "wood"}, vocab)
    assert [p.correct for p in preds] == [1.0, 0.0, 0.0] and res.metrics["vqa_accuracy"] == pytest.approx(
        1 / 3
    )


def test_three_matching_humans_score_point_nine():
    res, _ = score_vqa("okvqa", [_q(1, ["wood"] * 3 + ["metal"] * 7)], {"1": "wood"})
    assert res.metrics["vqa_accuracy"] == pytest.approx(0.9)


def test_train_prior_per_question_type():
    assert train_prior_answers(TRAIN, TEST) == {"1": "wood", "2": "2", "3": "wood"}


def test_bad_input():
    with pytest.raises(InputError, match="1 not in the dataset"):
        score_vqa("okvqa", TEST, {"1": "a", "2": "b", "3": "c", "4": "d"})
    with pytest.raises(KemmError, match="1 of 1 questions have no human answers"):
        score_vqa("okvqa", [_q(9, [])], {"9": "x"})
    with pytest.raises(KemmError, match="links"):
        score_vqa("okvqa", TEST, {}, links="gold")
