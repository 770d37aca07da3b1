"""``csqa``/``obqa`` scoring: accuracy, breakdowns, the train prior, and bad input."""

from __future__ import annotations

import pytest

from kemm.data import MultipleChoiceExample
from kemm.errors import InputError, KemmError
from kemm.evaluation.facts import Fact
from kemm.evaluation.tasks import EVAL_TASKS
from kemm.evaluation.tasks.multiple_choice import score_multiple_choice, train_prior_choices


def _mc(i, choices, answer):
    return MultipleChoiceExample(i, "q?", choices, list("ABCDE"[: len(choices)]), answer=answer)


EXAMPLES = [_mc("a", ["x", "y", "z"], 0), _mc("b", ["x", "y", "z"], 2), _mc("c", ["y", "w", "v"], 1)]
FACTS = {
    "a": Fact("a", "ex:apple", "IsA", ("x",)),
    "b": Fact("b", "ex:apple", "UsedFor", ("z",)),
    "c": Fact("c", "ex:knife", "IsA", ("w",)),
}


def test_registered_for_both_formats():
    assert EVAL_TASKS.get("commonsenseqa").formats == ("commonsenseqa",)
    assert EVAL_TASKS.get("OpenBookQA").formats == ("openbookqa",)


def test_accuracy_and_breakdowns():
    res, preds = score_multiple_choice("csqa", EXAMPLES, {"a": 0, "b": 1, "c": 1}, FACTS, {"ex:knife"})
    assert res.metrics == {"accuracy": pytest.approx(2 / 3)}
    assert res.per_relation == {
        "IsA": {"accuracy": 1.0, "count": 2},
        "UsedFor": {"accuracy": 0.0, "count": 1},
    }
    assert res.groups == {"heldout": {"accuracy": 1.0, "count": 1}, "seen": {"accuracy": 0.5, "count": 2}}
    assert [p.correct for p in preds] == [True, False, True] and preds[1].extra["label"] == "B"


def test_train_prior_picks_the_most_frequent_training_answer():
    train = [_mc("t1", ["y", "x"], 0), _mc("t2", ["y", "z"], 0), _mc("t3", ["w", "z"], 1)]
    assert train_prior_choices(train, EXAMPLES) == {"a": 1, "b": 1, "c": 0}


def test_bad_input():
    with pytest.raises(InputError, match="1 missing"):
        score_multiple_choice("csqa", EXAMPLES, {"a": 0, "b": 1})
    with pytest.raises(KemmError, match="choice 7 is not one of its 3 options"):
        score_multiple_choice("csqa", EXAMPLES, {"a": 7, "b": 1, "c": 1})
    with pytest.raises(KemmError, match="1 of 1 questions have no answerKey"):
        score_multiple_choice("csqa", [_mc("u", ["x"], None)], {"u": 0})
    with pytest.raises(KemmError, match="no questions"):
        score_multiple_choice("csqa", [], {})
