"""Evaluation: every metric kemm reports, computed in one place (:mod:`kemm.evaluation.metrics`)."""

from kemm.evaluation.metrics import PRF, precision_recall_f1

__all__ = ["PRF", "precision_recall_f1"]
