"""Evaluation: every metric kemm reports, computed in one place (:mod:`kemm.evaluation.metrics`)."""

from kemm.evaluation.metrics import (
    PRF,
    hits_at_k,
    mean_rank,
    mrr,
    multiple_choice_accuracy,
    normalize_vqa_answer,
    precision_at_k,
    precision_recall_f1,
    realistic_rank,
    vqa_reference_answers,
    vqa_soft_accuracy,
)

__all__ = [
    "PRF",
    "hits_at_k",
    "mean_rank",
    "mrr",
    "multiple_choice_accuracy",
    "normalize_vqa_answer",
    "precision_at_k",
    "precision_recall_f1",
    "realistic_rank",
    "vqa_reference_answers",
    "vqa_soft_accuracy",
]
