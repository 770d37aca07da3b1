"""Predictions files and task results: written atomically, read back with their ids checked."""

from __future__ import annotations

import json

import pytest

from kemm.errors import InputError, KemmError
from kemm.evaluation.tasks import (
    Prediction,
    TaskResult,
    check_ids,
    read_predictions,
    write_predictions,
    write_result,
)


def _preds(ids):
    return [Prediction(i, "a", ["a"], True, ["ex:apple"], {"relation": "IsA"}) for i in ids]


def test_predictions_round_trip(tmp_path):
    path = write_predictions(tmp_path / "p.jsonl", _preds(["q1", "q2"]))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert list(lines[0]) == ["id", "prediction", "gold", "correct", "entities", "relation"]
    back = read_predictions(path, expected_ids=["q2", "q1"])
    assert back == _preds(["q1", "q2"])


def test_missing_and_extra_ids_are_one_error_with_counts(tmp_path):
    path = write_predictions(tmp_path / "p.jsonl", _preds(["q1", "q2", "x9"]))
    with pytest.raises(InputError) as e:
        read_predictions(path, expected_ids=["q1", "q2", "q3", "q4"])
    msg = str(e.value)
    assert "4 ids" in msg and "2 missing ('q3', 'q4')" in msg and "1 not in the dataset ('x9')" in msg
    assert str(path) in msg


def test_repeated_ids_are_refused():
    with pytest.raises(InputError, match="1 repeated .'q1'."):
        check_ids(["q1", "q1", "q2"], ["q1", "q2"])
    with pytest.raises(InputError, match="repeated"):
        write_predictions("unused.jsonl", _preds(["q1", "q1"]))


def test_empty_predictions_are_an_error(tmp_path):
    with pytest.raises(KemmError, match="empty"):
        write_predictions(tmp_path / "p.jsonl", [])
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        read_predictions(tmp_path / "e.jsonl")


def test_a_line_without_a_field_is_located(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"id": "q1", "prediction": 1}\n')
    with pytest.raises(InputError, match=r"p.jsonl:1: .*missing \['gold', 'correct', 'entities'\]"):
        read_predictions(tmp_path / "p.jsonl")


def test_result_written_next_to_predictions(tmp_path):
    res = TaskResult("csqa", {"accuracy": 0.5}, counts={"examples": 2}, groups={"heldout": {"accuracy": 0.0}})
    write_result(tmp_path / "run", res, _preds(["q1", "q2"]))
    assert res.predictions_path == tmp_path / "run" / "predictions.jsonl"
    back = TaskResult.load(tmp_path / "run")
    assert back == res


def test_result_refuses_nan_and_unknown_settings():
    with pytest.raises(KemmError, match="NaN"):
        TaskResult("csqa", {"accuracy": float("nan")})
    with pytest.raises(KemmError, match="setting"):
        TaskResult("csqa", {"accuracy": 0.1}, setting="oracle")
