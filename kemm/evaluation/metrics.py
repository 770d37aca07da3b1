"""Every metric kemm reports, each implemented once.

The benchmark's chance levels, the KG-embedding evaluator, the evaluation tasks and the benchmark
scripts all call these functions; none computes a metric itself.

===============================  ====================================================================
metric                           used by
===============================  ====================================================================
:func:`precision_recall_f1`      entity linking (``scripts/bench_linking.py``)
===============================  ====================================================================

An empty input is an error (:class:`ValueError`), never a silent 0 or NaN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------------
# set overlap: precision, recall, F1
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 of a set of predictions against a gold set, with the counts.

    Attributes:
        precision: ``tp / (tp + fp)``; 0.0 when nothing was predicted (and gold is not empty).
        recall: ``tp / (tp + fn)``; 0.0 when gold is empty (and something was predicted).
        f1: the harmonic mean ``2 p r / (p + r)``; 0.0 when ``p + r == 0``.
        tp: predicted items that are in gold.
        fp: predicted items that are not in gold.
        fn: gold items that were not predicted.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int


def _unique(items: Iterable[Hashable], name: str) -> set[Hashable]:
    counts = Counter(items)
    repeated = [x for x, c in counts.items() if c > 1]
    if repeated:
        raise ValueError(f"{name} holds {len(repeated)} repeated item(s), e.g. {repeated[0]!r}")
    return set(counts)


def precision_recall_f1(predicted: Iterable[Hashable], gold: Iterable[Hashable]) -> PRF:
    """Micro precision, recall and F1 of ``predicted`` items against ``gold`` items.

    An item is anything hashable that identifies one decision; for entity linking it is
    ``(sentence id, (start, end), entity key)``, so a link counts only when span and entity both
    match. Items are compared as sets: a true positive is an item in both.

    Args:
        predicted: the items a system produced, each at most once.
        gold: the correct items, each at most once.

    Returns:
        :class:`PRF`. Precision is 0.0 when nothing was predicted, recall 0.0 when gold is empty
        (scikit-learn's ``zero_division=0``); F1 is 0.0 when both are 0.

    Raises:
        ValueError: both ``predicted`` and ``gold`` are empty (nothing to score), or either holds an
            item twice (counting a decision twice is a caller's bug, not a score).
    """
    pred = _unique(predicted, "predicted")
    ref = _unique(gold, "gold")
    if not pred and not ref:
        raise ValueError("precision_recall_f1: predicted and gold are both empty")
    tp = len(pred & ref)
    fp = len(pred) - tp
    fn = len(ref) - tp
    precision = tp / (tp + fp) if pred else 0.0
    recall = tp / (tp + fn) if ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return PRF(precision=precision, recall=recall, f1=f1, tp=tp, fp=fp, fn=fn)
