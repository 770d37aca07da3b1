"""A training run directory: train a model on a KG, evaluate it, load it back.

``RUN/`` (written by :func:`train_kge`) holds::

    config.yaml        the TrainConfig used
    kg.json            the KG path and a fingerprint of its entity/relation vocabularies
    model/             model.safetensors + model.json (the final model: best on valid when validating)
    checkpoint/        the last resumable checkpoint (safetensors + JSON: weights, optimiser, random state);
                       a run without model/ (unfinished) is loaded and evaluated from it
    fingerprint.json   config and input checksums: a resume with others is refused
    metrics.json       per-epoch history, test (and valid) results, timing
    tb/                TensorBoard event files

Loading a run against a KG whose vocabulary differs from the one it was trained on raises a
"mismatched vocabulary" error instead of silently mixing ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import yaml

from kemm.embeddings.base import WEIGHTS_NAME, KGEModel, build_model, load_model
from kemm.embeddings.config import TrainConfig
from kemm.embeddings.evaluation import EvaluationResult, evaluate
from kemm.embeddings.training import TrainingResult, train_model
from kemm.errors import KemmError
from kemm.kg.graph import KnowledgeGraph
from kemm.training import ProgressEvent
from kemm.training.checkpoint import STATE_NAME, checkpoint_dir
from kemm.utils.io import atomic_write

logger = logging.getLogger(__name__)


def vocabulary_fingerprint(kg: KnowledgeGraph) -> str:
    """sha256 of the entity keys and relation keys in id order: equal iff ids mean the same things."""
    h = hashlib.sha256()
    for keys in (kg.entities.keys, kg.relations.keys):
        h.update(len(keys).to_bytes(8, "little"))
        for k in keys:
            h.update(k.encode("utf-8"))
            h.update(b"\n")
    return h.hexdigest()


def _load_kg(kg: KnowledgeGraph | str | Path) -> KnowledgeGraph:
    kg = kg if isinstance(kg, KnowledgeGraph) else KnowledgeGraph.load(kg)
    if kg.num_triples == 0:
        raise KemmError(f"{kg.path or 'the KG'}: the KG has no triples; nothing to train on")
    if "train" not in kg.splits:
        raise KemmError(
            f"{kg.path or 'the KG'}: the KG has no train split; run `kemm kg split {kg.path or 'DIR'}` first"
        )
    return kg


def _known(kg: KnowledgeGraph) -> np.ndarray:
    return np.concatenate([kg.split(s) for s in ("train", "valid", "test") if s in kg.splits]).astype(
        np.int64
    )


@dataclass
class RunResult:
    """Outcome of :func:`train_kge`: the trained model, training history, test results (when a test split exists)."""

    model: KGEModel
    training: TrainingResult
    test: EvaluationResult | None
    run_dir: Path


def train_kge(
    kg: KnowledgeGraph | str | Path,
    out: str | Path,
    config: TrainConfig,
    resume: bool = False,
    callback: Callable[[ProgressEvent], None] | None = None,
    evaluate_test: bool = True,
) -> RunResult:
    """Train ``config.model`` on the train split of ``kg`` and write the run directory ``out``.

    Under torchrun every rank trains (data parallel); rank 0 writes the run directory.
    """
    kg = _load_kg(kg)
    out = Path(out)
    fingerprint = vocabulary_fingerprint(kg)
    main = int(os.environ.get("RANK", "0")) == 0
    if resume:
        check_vocabulary(out, kg)
    elif (out / "checkpoint").exists() or checkpoint_dir(out) is not None:
        raise KemmError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    elif main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(out, config)
        with atomic_write(out / "kg.json") as f:
            json.dump(
                {
                    "path": str(Path(kg.path).resolve()) if kg.path else None,
                    "fingerprint": fingerprint,
                    "num_entities": kg.num_entities,
                    "num_relations": kg.num_relations,
                },
                f,
                indent=2,
            )
    train = kg.split("train").astype(np.int64)
    valid = kg.split("valid").astype(np.int64) if "valid" in kg.splits else None
    torch.manual_seed(config.seed)
    graph = (torch.from_numpy(train[:, [0, 2]].T.copy()), torch.from_numpy(train[:, 1].copy()))
    model = build_model(config.model, kg.num_entities, kg.num_relations, graph=graph, **config.model_kwargs)
    result = train_model(
        model,
        train,
        config,
        valid=valid,
        filter_triples=_known(kg),
        run_dir=out,
        resume=resume,
        callback=callback,
    )
    if not main:
        return RunResult(model, result, None, out)
    if resume:
        _write_config(out, config)  # the settings it ran to the end with (epochs may have grown)
    model.save(out / "model")
    metrics: dict = {
        "model": config.model,
        "training": {
            "history": result.history,
            "best_epoch": result.best_epoch,
            "best_valid_mrr": result.best_valid_mrr,
            "stopped_early": result.stopped_early,
            "epochs_run": result.epochs_run,
        },
    }
    test = None
    if evaluate_test and "test" in kg.splits and len(kg.splits["test"]):
        test = evaluate(model, kg.split("test"), _known(kg), relation_names=kg.relations.keys)
        metrics["test"] = test.as_dict()
    with atomic_write(out / "metrics.json") as f:
        json.dump(metrics, f, indent=2)
    return RunResult(model, result, test, out)


def _write_config(out: Path, config: TrainConfig) -> None:
    with atomic_write(out / "config.yaml") as f:
        yaml.safe_dump(config.to_dict(), f, sort_keys=False)


def check_vocabulary(run_dir: str | Path, kg: KnowledgeGraph) -> None:
    """Raise unless ``kg`` has the vocabulary the run in ``run_dir`` was trained on."""
    info_path = Path(run_dir) / "kg.json"
    if not info_path.exists():
        raise KemmError(f"{run_dir}: not a kemm KGE run directory (kg.json is missing)")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info["fingerprint"] != vocabulary_fingerprint(kg):
        raise KemmError(
            f"mismatched vocabulary: the run {run_dir} was trained on a KG with {info['num_entities']} "
            f"entities / {info['num_relations']} relations (fingerprint {info['fingerprint'][:12]}), "
            f"but {kg.path or 'this KG'} has {kg.num_entities} / {kg.num_relations} "
            f"(fingerprint {vocabulary_fingerprint(kg)[:12]})"
        )


def load_run(
    run_dir: str | Path, kg: KnowledgeGraph | str | Path | None = None, map_location: str = "cpu"
) -> tuple[KGEModel, KnowledgeGraph]:
    """The trained model of ``run_dir`` and its KG (by default the KG it was trained on), vocabularies checked.

    An unfinished run (no ``model/``) gives the model of its last checkpoint.
    """
    model, kg, _ = _load(Path(run_dir), kg, map_location)
    return model, kg


def _load(
    run_dir: Path, kg: KnowledgeGraph | str | Path | None, map_location: str
) -> tuple[KGEModel, KnowledgeGraph, CheckpointProgress | None]:
    info_path = run_dir / "kg.json"
    if not info_path.exists():
        raise KemmError(f"{run_dir}: not a kemm KGE run directory (kg.json is missing)")
    model_dir, progress = _weights(run_dir)  # before loading a KG: a run without weights fails fast
    if kg is None:
        path = json.loads(info_path.read_text(encoding="utf-8"))["path"]
        if path is None or not Path(path).exists():
            raise KemmError(f"{run_dir}: the KG it was trained on ({path}) is gone; pass --kg")
        kg = KnowledgeGraph.load(path)
    elif not isinstance(kg, KnowledgeGraph):
        kg = KnowledgeGraph.load(kg)
    check_vocabulary(run_dir, kg)
    return load_model(model_dir, map_location), kg, progress


@dataclass(frozen=True)
class CheckpointProgress:
    """How far the last checkpoint of an unfinished run got: ``epoch`` of ``max_epochs`` completed."""

    epoch: int
    max_epochs: int
    directory: Path


def _weights(run_dir: Path) -> tuple[Path, CheckpointProgress | None]:
    """The directory of the weights to use: the final model, else (an unfinished run) its last checkpoint.

    The progress is None for a finished run (one with ``model/``).
    """
    model_dir = run_dir / "model"
    if (model_dir / WEIGHTS_NAME).is_file():
        return model_dir, None
    ckpt = checkpoint_dir(run_dir)
    if ckpt is None:
        raise KemmError(
            f"{run_dir}: the run has no weights to use: it is not finished (no model/) "
            "and has no checkpoint yet (it stopped before its first one)"
        )
    state = json.loads((ckpt / STATE_NAME).read_text(encoding="utf-8"))
    epoch = int(state.get("state", {}).get("result", {}).get("epochs_run", 0))
    max_epochs = int(state.get("config", {}).get("max_epochs", 0))
    return ckpt, CheckpointProgress(epoch, max_epochs, ckpt)


@dataclass
class RunEvaluation(EvaluationResult):
    """An :class:`EvaluationResult` of a run, with which weights were ranked.

    Attributes:
        checkpoint: None when the run's final model was evaluated; for an unfinished run, how
            far the last checkpoint (the weights evaluated) got.
    """

    checkpoint: CheckpointProgress | None = None

    @property
    def finished(self) -> bool:
        return self.checkpoint is None

    def as_dict(self) -> dict:
        d = super().as_dict()
        if self.checkpoint is not None:
            d["unfinished"] = {"epoch": self.checkpoint.epoch, "max_epochs": self.checkpoint.max_epochs}
        return d


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    kg: KnowledgeGraph | str | Path | None = None,
    batch_size: int | None = None,
) -> EvaluationResult:
    """Filtered evaluation of a trained run on ``split`` of its KG (filtering train + valid + test).

    The result is a :class:`RunEvaluation` (typed as its base, which callers mix with results of
    :func:`~kemm.embeddings.evaluation.evaluate`). A run that has not finished (no ``model/``:
    interrupted, or still training) is evaluated with the weights of its last checkpoint; the
    result's ``checkpoint`` says which epoch that is (None for a finished run).

    Raises:
        KemmError: the run has neither a final model nor a checkpoint.
    """
    run_dir = Path(run_dir)
    model, kg, progress = _load(run_dir, kg, "cpu")
    if progress is not None:
        logger.debug(
            "%s is not finished: evaluating its last checkpoint (epoch %d of %d)",
            run_dir,
            progress.epoch,
            progress.max_epochs,
        )
    res = evaluate(
        model, kg.split(split), _known(kg), relation_names=kg.relations.keys, batch_size=batch_size
    )
    return RunEvaluation(**{f.name: getattr(res, f.name) for f in fields(res)}, checkpoint=progress)
