"""Evaluate one task from what a run produced: a predictions file, or a baseline.

:func:`evaluate_task` reads the dataset (:func:`kemm.evaluation.datasets.load_examples`), takes
the answers from a predictions file (its ids checked against the dataset's) or from the
train-prior baseline, scores them with the task's scoring function and writes
``predictions.jsonl`` + ``metrics.json``. Model-based answers (a fine-tuned checkpoint) feed the
same scoring functions.

=========  ================================  ===============================  =======================
task       scoring                           predictions file ``prediction``  baseline ``train-prior``
=========  ================================  ===============================  =======================
csqa/obqa  :func:`.score_multiple_choice`    chosen option index              :func:`.train_prior_choices`
okvqa      :func:`.score_vqa`                answer string                    :func:`.train_prior_answers`
lama       :func:`.score_cloze`              (ranks needed: model or baseline) :func:`.train_prior_scores`
=========  ================================  ===============================  =======================
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kemm.errors import KemmError
from kemm.evaluation.answers import AnswerVocabulary
from kemm.evaluation.benchmark import Benchmark, DatasetSpec
from kemm.evaluation.datasets import example_id, load_examples
from kemm.evaluation.facts import Fact, read_facts
from kemm.evaluation.tasks.base import EVAL_TASKS, TaskResult, read_predictions, write_result
from kemm.evaluation.tasks.lama import (
    ClozeScores,
    gold_columns,
    read_vocabulary,
    score_cloze,
    train_prior_scores,
    word_protocol,
)
from kemm.evaluation.tasks.multiple_choice import score_multiple_choice, train_prior_choices
from kemm.evaluation.tasks.vqa import score_vqa, train_prior_answers

logger = logging.getLogger(__name__)

BASELINES = ("train-prior",)


def _load(spec: DatasetSpec, ids_file: str | Path | None = None) -> list[Any]:
    return load_examples(spec.format, spec.path, ids_file=ids_file, **spec.options)


def _facts(examples: list[Any], spec: DatasetSpec) -> dict[str, Fact] | None:
    """The facts of the examples, or None when the dataset states none (no breakdowns then)."""
    try:
        return {f.id: f for f in read_facts(examples, spec.format, spec.path)}
    except KemmError as e:
        logger.info("no per-relation / seen-held-out breakdown: %s", e)
        return None


def evaluate_task(
    task: str,
    out_dir: str | Path,
    dataset: DatasetSpec,
    predictions: str | Path | None = None,
    baseline: str | None = None,
    train: DatasetSpec | None = None,
    ids_file: str | Path | None = None,
    heldout: set[str] | None = None,
    vocabulary: str | Path | None = None,
    setting: str = "fact-in-kg",
    links: str = "predicted",
) -> TaskResult:
    """Score ``task`` on ``dataset`` from a predictions file or a baseline; write the results to ``out_dir``.

    Args:
        predictions: a predictions file (``id``, ``prediction``, ...) for the dataset's ids.
        baseline: ``"train-prior"`` (needs ``train``).
        train: the training split (the baseline's prior; VQA: the answer vocabulary, so that
            out-of-vocabulary gold answers are counted).
        ids_file: question ids selecting an in-house split of ``dataset``.
        heldout: held-out entity keys (seen/held-out breakdown).
        vocabulary: LAMA's common vocabulary (one word a line).

    Raises:
        KemmError: neither or both of ``predictions`` and ``baseline``; a baseline without
            ``train``; a LAMA predictions file (cloze needs the full ranking).
    """
    name = EVAL_TASKS.name_of(EVAL_TASKS.get(task))
    if (predictions is None) == (baseline is None):
        raise KemmError("give exactly one of a predictions file and a baseline")
    if baseline is not None and baseline not in BASELINES:
        raise KemmError(f"unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}")
    if baseline is not None and train is None:
        raise KemmError(f"the {baseline} baseline needs the training split")
    if name == "lama" and predictions is not None:
        raise KemmError("lama: P@k and MRR need each probe's full ranking; score a model or a baseline")
    examples = _load(dataset, ids_file)
    ids = [example_id(e) for e in examples]
    facts = _facts(examples, dataset)
    train_examples = _load(train) if train is not None else None
    answers: dict[str, Any] | None = None
    entities = None
    if predictions is not None:
        preds = read_predictions(predictions, expected_ids=ids)
        answers = {p.id: p.prediction for p in preds}
        entities = {p.id: list(p.entities) for p in preds}
    if name in ("csqa", "obqa"):
        if answers is None:
            assert train_examples is not None
            answers = train_prior_choices(train_examples, examples)
        bad = [i for i, a in answers.items() if not isinstance(a, int) or isinstance(a, bool)]
        if bad:
            raise KemmError(
                f"{name}: predictions must be option indices; {len(bad)} are not (e.g. {bad[0]}: {answers[bad[0]]!r})"
            )
        result, lines = score_multiple_choice(name, examples, answers, facts, heldout, entities, setting)
    elif name in ("okvqa", "aokvqa"):
        vocab = AnswerVocabulary.from_examples(train_examples) if train_examples is not None else None
        if answers is None:
            assert train_examples is not None
            answers = train_prior_answers(train_examples, examples)
        answers = {i: str(a) for i, a in answers.items()}
        result, lines = score_vqa(name, examples, answers, vocab, facts, heldout, entities, setting, links)
    elif name == "lama":
        if vocabulary is None:
            raise KemmError(
                "lama: the common vocabulary is needed (one word a line; the benchmark's lama/vocab.txt)"
            )
        assert train_examples is not None
        protocol = word_protocol(examples, read_vocabulary(vocabulary))
        by_id = {example_id(e): e for e in examples}
        scored = protocol.scored
        scores = train_prior_scores(
            [e.relation for e in train_examples],
            [e.answer for e in train_examples],
            [by_id[i].relation for i in scored],
            protocol.candidates,
        )
        words = ClozeScores(
            scored,
            protocol.candidates,
            scores,
            gold_columns(scored, {i: by_id[i].answer for i in scored}, protocol.candidates),
        )
        result, lines = score_cloze(name, examples, words, None, protocol, facts, heldout, setting)
    else:
        raise KemmError(f"{name}: no scoring from predictions or baselines (see `kemm eval {name}`)")
    result.info.update(
        {
            "dataset": str(dataset.path),
            "format": dataset.format,
            "ids_file": str(ids_file) if ids_file else None,
            "source": str(predictions) if predictions is not None else f"baseline:{baseline}",
            "links": links,
        }
    )
    return write_result(out_dir, result, lines)


def benchmark_task(
    bench: str | Path,
    task: str,
    split: str,
    out_dir: str | Path,
    predictions: str | Path | None = None,
    baseline: str | None = None,
    ids_file: str | Path | None = None,
    setting: str = "fact-in-kg",
    links: str = "predicted",
) -> TaskResult:
    """:func:`evaluate_task` on a benchmark built by ``kemm data make-benchmark``: the task's
    ``split`` file, its train file, its held-out entities and (LAMA) its vocabulary."""
    b = Benchmark(bench)
    name = EVAL_TASKS.name_of(EVAL_TASKS.get(task))  # an alias (lama-zero-shot) reads its task's data
    data_task = "csqa" if name in ("csqa", "obqa") else name
    return evaluate_task(
        task,
        out_dir,
        b.dataset(data_task, split),
        predictions=predictions,
        baseline=baseline,
        train=b.dataset(data_task, "train"),
        ids_file=ids_file,
        heldout=b.heldout(split),
        vocabulary=b.cloze_vocabulary if data_task == "lama" else None,
        setting=setting,
        links=links,
    )
