"""Every metric of kemm.evaluation.metrics on hand-computed cases, edge cases included."""

from __future__ import annotations

import pytest

from kemm.evaluation.metrics import PRF, precision_recall_f1

# --------------------------------------------------------------------------------------------------
# precision, recall, F1
# --------------------------------------------------------------------------------------------------


def test_precision_recall_f1_counts_and_ratios():
    gold = [("s1", (0, 5), "apple"), ("s1", (9, 14), "pear"), ("s2", (0, 3), "cat")]
    predicted = [
        ("s1", (0, 5), "apple"),
        ("s1", (9, 14), "plum"),
        ("s2", (4, 7), "dog"),
        ("s2", (0, 3), "cat"),
    ]
    prf = precision_recall_f1(predicted, gold)
    assert (prf.tp, prf.fp, prf.fn) == (2, 2, 1)
    assert prf.precision == pytest.approx(2 / 4)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # 4/7


def test_precision_recall_f1_perfect_and_disjoint():
    assert precision_recall_f1({"a", "b"}, ["b", "a"]) == PRF(1.0, 1.0, 1.0, tp=2, fp=0, fn=0)
    assert precision_recall_f1(["a"], ["b"]) == PRF(0.0, 0.0, 0.0, tp=0, fp=1, fn=1)


def test_precision_recall_f1_one_side_empty():
    # nothing predicted: precision 0 by convention, recall 0 from the counts
    assert precision_recall_f1([], ["a", "b"]) == PRF(0.0, 0.0, 0.0, tp=0, fp=0, fn=2)
    # no gold: recall 0 by convention
    assert precision_recall_f1(iter(["a"]), []) == PRF(0.0, 0.0, 0.0, tp=0, fp=1, fn=0)


def test_precision_recall_f1_rejects_empty_and_repeated_items():
    with pytest.raises(ValueError, match="both empty"):
        precision_recall_f1([], [])
    with pytest.raises(ValueError, match="predicted holds 1 repeated"):
        precision_recall_f1(["a", "a"], ["a"])
    with pytest.raises(ValueError, match="gold holds 1 repeated"):
        precision_recall_f1(["a"], ["b", "b"])


def test_prf_is_frozen():
    prf = precision_recall_f1(["a"], ["a"])
    with pytest.raises(AttributeError):
        prf.f1 = 0.0  # type: ignore[misc]
