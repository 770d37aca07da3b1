"""``csqa`` and ``obqa``: commonsense multiple choice (CommonsenseQA and OpenBookQA formats), accuracy.

The task scores one chosen option per question (:func:`score_multiple_choice`) with
:func:`kemm.evaluation.metrics.multiple_choice_accuracy`, overall, per relation and for seen
vs held-out entities, and writes the predictions file (the entities of a prediction are the KG
entities the question and its choices were grounded to). The choices come from a model (each
(question, choice) pair grounded by kemm's linker, its subgraph retrieved, scored by the fused
model), from a predictions file, or from :func:`train_prior_choices`, the baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from kemm.data import MultipleChoiceExample
from kemm.errors import KemmError
from kemm.evaluation.datasets import example_id
from kemm.evaluation.facts import Fact
from kemm.evaluation.metrics import multiple_choice_accuracy
from kemm.evaluation.tasks.base import (
    EVAL_TASKS,
    EvalTask,
    Prediction,
    TaskResult,
    breakdown,
    check_ids,
)


@EVAL_TASKS.register("csqa", aliases=("commonsenseqa",))
class CommonsenseQATask(EvalTask):
    """CommonsenseQA-format multiple choice (the bundled benchmark's ``csqa/``); accuracy."""

    formats = ("commonsenseqa",)
    metric = "accuracy"


@EVAL_TASKS.register("obqa", aliases=("openbookqa",))
class OpenBookQATask(CommonsenseQATask):
    """OpenBookQA-format multiple choice; accuracy."""

    formats = ("openbookqa",)


def train_prior_choices(
    train: Sequence[MultipleChoiceExample], examples: Sequence[MultipleChoiceExample]
) -> dict[str, int]:
    """The train-prior baseline: for each question, the choice whose text was most often the correct
    answer of a training question (ties and unseen texts: the earliest such choice)."""
    counts = Counter(ex.choices[ex.answer].lower() for ex in train if ex.answer is not None)
    if not counts:
        raise KemmError("no labelled training questions to estimate the answer prior from")
    out = {}
    for ex in examples:
        freq = [counts.get(c.lower(), 0) for c in ex.choices]
        out[example_id(ex)] = max(range(len(freq)), key=lambda i: (freq[i], -i))
    return out


def _accuracy(preds: Sequence[Prediction]) -> dict[str, float]:
    return {"accuracy": multiple_choice_accuracy([p.prediction for p in preds], [p.gold for p in preds])}


def entity_groups(facts: Mapping[str, Fact], heldout: set[str]) -> dict[str, str | None]:
    """id -> ``"heldout"`` when the fact's subject is a held-out entity, ``"seen"`` otherwise."""
    return {i: ("heldout" if f.subject in heldout else "seen") for i, f in facts.items()}


def score_multiple_choice(
    task: str,
    examples: Sequence[MultipleChoiceExample],
    chosen: Mapping[str, int],
    facts: Mapping[str, Fact] | None = None,
    heldout: set[str] | None = None,
    entities: Mapping[str, list[str]] | None = None,
    setting: str = "fact-in-kg",
) -> tuple[TaskResult, list[Prediction]]:
    """Accuracy of the option index ``chosen[id]`` of every example.

    Args:
        facts: id -> the fact asked about (:func:`kemm.evaluation.facts.read_facts`), for the
            per-relation and seen/held-out breakdowns; None: no breakdown.
        heldout: held-out entity keys (the benchmark's ``stats.json``); with ``facts``, a
            question about one of them is ``"heldout"``.
        entities: id -> the KG entities the question was grounded to (written with the prediction).

    Raises:
        KemmError: no examples; an unlabelled question (its count named); a chosen index outside
            the question's options. InputError: ids of ``chosen`` differ from the dataset's.
    """
    if not examples:
        raise KemmError(f"{task}: no questions to evaluate")
    ids = [example_id(ex) for ex in examples]
    check_ids(list(chosen), ids)
    unlabelled = [i for i, ex in zip(ids, examples) if ex.answer is None]
    if unlabelled:
        raise KemmError(
            f"{task}: {len(unlabelled)} of {len(ids)} questions have no answerKey (e.g. {unlabelled[0]}); "
            "an unlabelled split cannot be scored"
        )
    predictions = []
    for i, ex in zip(ids, examples):
        c = int(chosen[i])
        if not 0 <= c < len(ex.choices):
            raise KemmError(f"{task}: question {i}: choice {c} is not one of its {len(ex.choices)} options")
        extra = {"label": ex.labels[c], "gold_label": ex.answer_label}
        if facts is not None and i in facts:
            extra["relation"] = facts[i].relation
        predictions.append(
            Prediction(i, c, ex.answer, c == ex.answer, list((entities or {}).get(i, [])), extra)
        )
    per_relation, groups = {}, {}
    if facts is not None:
        per_relation = breakdown(predictions, {i: f.relation for i, f in facts.items()}, _accuracy)
        if heldout is not None:
            groups = breakdown(predictions, entity_groups(facts, heldout), _accuracy)
    result = TaskResult(
        task=task,
        metrics=_accuracy(predictions),
        counts={"examples": len(predictions)},
        per_relation=per_relation,
        groups=groups,
        setting=setting,
    )
    return result, predictions
