"""Chance levels: what a model that ignores the image and the KG scores on each task.

Every score comes from :mod:`kemm.evaluation.metrics`. The VQA baseline is the *train prior*: the
answer a blind model learns from the training split for each question type, scored on the split
evaluated. The best constant answer chosen on the evaluated split itself is reported too, but only
as ``oracle_best_constant``: it looks at the answers it is scored on, so it is an upper bound on any
answer prior, not a chance level.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from kemm.evaluation.metrics import normalize_vqa_answer, vqa_reference_answers, vqa_soft_accuracy

#: The keys of :func:`vqa_chance`'s ``overall``; ``train_prior`` is the baseline.
VQA_BASELINES = ("train_prior", "uniform", "oracle_best_constant")


def _answers(ann: dict[str, Any]) -> list[str]:
    return [x["answer"] for x in ann["answers"]]


def _most_common(counts: Counter[str]) -> str:
    """The most frequent key; ties go to the alphabetically first (no dependence on insertion order)."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def vqa_chance(annotations: list[dict[str, Any]], train_annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Soft-accuracy baselines on OK-VQA style ``annotations``, per question type and overall.

    * ``train_prior`` (the baseline): per question type, the answer that is most often the top-voted
      answer of a *training* question of the type, scored on ``annotations``; a type without training
      questions gets the most frequent top-voted training answer over all types.
    * ``uniform``: the expected score of guessing uniformly among the distinct answers that training
      questions of the type list (all of them when the type has no training question).
    * ``oracle_best_constant``: the one answer per question type, among the answers the humans gave,
      that scores best *on these questions*. Chosen on the evaluated split, it is an oracle (an
      upper bound on any answer prior), not a chance level; ``answer`` is None when no human answer
      of the type can be matched (an unnormalised unanimous answer, see
      :func:`~kemm.evaluation.metrics.vqa_reference_answers`).

    Args:
        annotations: the split evaluated: dicts with ``question_type`` and ``answers``
            (``[{"answer": str}, ...]``, answers stored normalised as VQA stores them).
        train_annotations: the training split, same layout.

    Returns:
        ``{"overall": {name: accuracy}, "per_question_type": {type: {...}}}`` with the names of
        :data:`VQA_BASELINES`; ``overall`` weighs each type by its number of questions.

    Raises:
        ValueError: ``annotations`` or ``train_annotations`` is empty.
    """
    if not annotations:
        raise ValueError("vqa_chance: no questions to score")
    if not train_annotations:
        raise ValueError("vqa_chance: no training questions to estimate the answer prior from")
    by_type: dict[str, list[list[str]]] = defaultdict(list)
    for ann in annotations:
        by_type[ann["question_type"]].append(_answers(ann))
    top_counts: dict[str, Counter[str]] = defaultdict(Counter)
    train_vocab: dict[str, set[str]] = defaultdict(set)
    for ann in train_annotations:
        answers = _answers(ann)
        top_counts[ann["question_type"]][_most_common(Counter(answers))] += 1
        train_vocab[ann["question_type"]].update(answers)
    global_prior = _most_common(sum(top_counts.values(), Counter()))
    all_vocab = set().union(*train_vocab.values())

    per_type: dict[str, Any] = {}
    total = dict.fromkeys(VQA_BASELINES, 0.0)
    for t, qs in sorted(by_type.items()):
        prior = _most_common(top_counts[t]) if t in top_counts else global_prior
        prior_sum = sum(vqa_soft_accuracy(prior, answers) for answers in qs)
        # a guess scores on a question only when its normalised form is one of the references the
        # official metric compares with; guesses with the same normalised form score the same
        vocab = sorted(train_vocab.get(t, all_vocab))
        guesses_by_form: dict[str, list[str]] = defaultdict(list)
        for v in vocab:
            guesses_by_form[normalize_vqa_answer(v)].append(v)
        uniform_sum = 0.0
        oracle: dict[str, float] = defaultdict(float)
        for answers in qs:
            refs = sorted(set(vqa_reference_answers(answers)))  # sorted: sums independent of hashing
            for r in refs:
                if r in guesses_by_form:
                    uniform_sum += len(guesses_by_form[r]) * vqa_soft_accuracy(guesses_by_form[r][0], answers)
                if normalize_vqa_answer(r) == r:  # r itself is an answer that matches r
                    oracle[r] += vqa_soft_accuracy(r, answers)
        uniform = uniform_sum / len(vocab) / len(qs)
        best, best_sum = min(oracle.items(), key=lambda kv: (-kv[1], kv[0])) if oracle else (None, 0.0)
        per_type[t] = {
            "questions": len(qs),
            "train_prior": {"answer": prior, "accuracy": round(prior_sum / len(qs), 6)},
            "uniform": {"vocabulary": len(vocab), "accuracy": round(uniform, 6)},
            "oracle_best_constant": {"answer": best, "accuracy": round(best_sum / len(qs), 6)},
        }
        total["train_prior"] += prior_sum
        total["uniform"] += uniform * len(qs)
        total["oracle_best_constant"] += best_sum
    overall = {k: round(v / len(annotations), 6) for k, v in total.items()}
    return {"overall": overall, "per_question_type": per_type}


def multiple_choice_chance(num_choices: int) -> dict[str, Any]:
    """Chance of picking the right one of ``num_choices`` options uniformly: ``1 / num_choices``."""
    if num_choices < 1:
        raise ValueError(f"multiple_choice_chance: need at least one choice, got {num_choices}")
    return {"accuracy": 1.0 / num_choices, "choices": num_choices}


def cloze_chance(obj_labels: list[str], vocabulary: list[str]) -> dict[str, Any]:
    """Chance of guessing the masked word uniformly from the candidate ``vocabulary``: ``1 / |V|``."""
    if not vocabulary:
        raise ValueError("cloze_chance: empty candidate vocabulary")
    return {"vocabulary": len(vocabulary), "accuracy": 1.0 / len(vocabulary), "probes": len(obj_labels)}
