"""Chance levels: what a model that ignores the image and the KG scores on each task."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from kemm.data.benchmark.vqa import vqa_accuracy


def vqa_chance(annotations: list[dict[str, Any]], train_annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Soft-accuracy baselines on OK-VQA style ``annotations``, per question type and overall.

    * ``best_constant``: the single answer per question type that scores best *on these questions*
      (an upper bound on any answer prior that knows the question type);
    * ``train_prior``: the most common training answer of the question type, scored here;
    * ``uniform``: the expected score of guessing uniformly among the answers of the question type
      that occur in these questions.
    """
    by_type: dict[str, list[list[str]]] = defaultdict(list)
    for ann in annotations:
        by_type[ann["question_type"]].append([x["answer"] for x in ann["answers"]])
    train_top: dict[str, str] = {}
    train_counts: dict[str, Counter] = defaultdict(Counter)
    for ann in train_annotations:
        top = Counter(x["answer"] for x in ann["answers"]).most_common(1)[0][0]
        train_counts[ann["question_type"]][top] += 1
    for t, c in train_counts.items():
        train_top[t] = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    per_type: dict[str, Any] = {}
    total = {"best_constant": 0.0, "train_prior": 0.0, "uniform": 0.0}
    n_all = 0
    for t, qs in sorted(by_type.items()):
        score: dict[str, float] = defaultdict(float)
        vocab: set[str] = set()
        for answers in qs:
            for a in sorted(set(answers)):  # only answers a question lists can score on it; sorted: the
                # float sums below must not depend on string hashing (byte-identical stats.json)
                score[a] += vqa_accuracy(a, answers)
            vocab.update(answers)
        best, best_sum = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        uniform = sum(score.values()) / len(vocab) / len(qs)
        prior = train_top.get(t)
        prior_acc = sum(vqa_accuracy(prior, a) for a in qs) / len(qs) if prior is not None else 0.0
        per_type[t] = {
            "questions": len(qs),
            "best_constant": {"answer": best, "accuracy": round(best_sum / len(qs), 6)},
            "train_prior": {"answer": prior, "accuracy": round(prior_acc, 6)},
            "uniform": {"vocabulary": len(vocab), "accuracy": round(uniform, 6)},
        }
        total["best_constant"] += best_sum
        total["train_prior"] += prior_acc * len(qs)
        total["uniform"] += uniform * len(qs)
        n_all += len(qs)
    overall = {k: (round(v / n_all, 6) if n_all else 0.0) for k, v in total.items()}
    return {"overall": overall, "per_question_type": per_type}


def cloze_chance(obj_labels: list[str], vocabulary: list[str]) -> dict[str, Any]:
    """Chance of guessing the masked word uniformly from the candidate ``vocabulary``."""
    return {
        "vocabulary": len(vocabulary),
        "accuracy": 1.0 / len(vocabulary) if vocabulary else 0.0,
        "probes": len(obj_labels),
    }
