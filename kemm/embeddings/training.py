"""KGE training as a task of the one engine (:mod:`kemm.training`): sLCWA and LCWA step functions.

sLCWA scores each positive triple against ``num_negatives`` corruptions; LCWA scores every
``(h, r)`` and ``(r, t)`` query of the training set against all entities (1-vs-all).
Validation is the filtered MRR, which decides the best model and early stopping. The loop,
checkpoints (safetensors + JSON, nothing pickled), exact resumption, NaN stops, TensorBoard
scalars and torchrun data parallelism are the engine's: a run is repeatable, since the seed fixes
initialisation, shuffling (``seed + epoch``, as ``DistributedSampler``) and negative sampling (the
engine's generator, whose state is checkpointed), so resuming reaches exactly the parameters an
uninterrupted run reaches.

Under torchrun each rank trains on its shard of every epoch with ``batch_size`` triples per step
(so a step covers ``world_size * batch_size`` triples) and validates on the whole valid split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kemm.embeddings.base import CONFIG_NAME, KGEModel
from kemm.embeddings.config import TrainConfig
from kemm.embeddings.evaluation import FilterIndex, evaluate
from kemm.embeddings.gnn import GNNModel
from kemm.embeddings.losses import build_loss
from kemm.embeddings.negatives import NegativeSampler
from kemm.embeddings.regularizers import REGULARIZERS
from kemm.errors import KemmError
from kemm.training import Engine, EngineConfig, ProgressEvent, RunContext, StepOutput, Task, resolve_device
from kemm.training.engine import FitResult, TrainingDivergedError
from kemm.training.optim import build_optimizer
from kemm.training.resume import checksum

logger = logging.getLogger(__name__)

__all__ = ["KGETask", "Trainer", "TrainingDivergedError", "TrainingResult", "engine_config", "train_model"]

#: TrainConfig fields a resumed run may change (how long and where it runs; the engine's own
#: fingerprint covers seed, validation and early stopping)
_NOT_FINGERPRINTED = ("epochs", "device", "checkpoint_every", "tensorboard", "seed", "eval_every", "amp")


@dataclass
class TrainingResult:
    """Outcome of :func:`train_model`.

    Attributes:
        history: one dict per epoch (``epoch``, ``loss``, ``seconds``, ``triples_per_second``, maybe ``valid_mrr``).
        best_epoch: epoch of the best validation MRR (None without validation).
        best_valid_mrr: the best validation MRR.
        stopped_early: training ended by early stopping.
        epochs_run: last completed epoch.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid_mrr: float | None = None
    stopped_early: bool = False
    epochs_run: int = 0


def engine_config(c: TrainConfig, validating: bool) -> EngineConfig:
    """The engine settings of a KGE :class:`TrainConfig`."""
    return EngineConfig(
        max_epochs=c.epochs,
        # amp: bfloat16 autocast on CUDA (on CPU it stays fp32, as it always did)
        precision="bf16" if c.amp and resolve_device(c.device).type == "cuda" else "fp32",
        device=c.device,
        seed=c.seed,
        validate_every=c.eval_every if validating else 0,
        early_stopping_metric="valid/mrr" if validating else None,
        early_stopping_mode="max",
        early_stopping_patience=c.early_stopping_patience,
        checkpoint_every=c.checkpoint_every,
        tensorboard=c.tensorboard,
    )


class KGETask(Task):
    """Training of a :class:`KGEModel` on ``(n, 3)`` triples.

    Args:
        model: the model, trained in place.
        train: ``(n, 3)`` int64 training triples.
        config: the training settings.
        valid: validation triples (used when ``config.eval_every`` > 0).
        filter_triples: known true triples filtered out of validation ranks (default: ``valid``).
    """

    model: KGEModel
    broadcast_buffers = False  # a GNN's graph buffers never change

    def __init__(
        self,
        model: KGEModel,
        train: np.ndarray,
        config: TrainConfig,
        valid: np.ndarray | None = None,
        filter_triples: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.config = c = config
        self.train = torch.as_tensor(np.asarray(train), dtype=torch.long)
        if len(self.train) == 0:
            raise KemmError("no training triples: the train split is empty")
        if c.regularizer is not None:
            REGULARIZERS.get(c.regularizer)  # an unknown name fails before training starts
        if c.num_neighbors:
            if not isinstance(model, GNNModel):
                raise KemmError("num_neighbors (neighbour-sampled training) applies to GNN models only")
            if c.loop != "slcwa":
                raise KemmError("neighbour-sampled training needs loop: slcwa")
        self.find_unused_parameters = bool(c.num_neighbors)  # a sampled subgraph may skip relations
        self.loss = build_loss(c.loss, **c.loss_kwargs)
        n_ent, n_rel = model.num_entities, model.num_relations
        if c.loop == "lcwa":
            self.train_index = FilterIndex(self.train, n_ent, n_rel)
            tails = torch.unique(self.train[:, 0] * n_rel + self.train[:, 1])
            heads = torch.unique(self.train[:, 2] * n_rel + self.train[:, 1])
            # (Q, 3): side (0: predict tails of (h, r), 1: predict heads of (r, t)), entity, relation
            self.queries = torch.cat(
                [
                    torch.stack([torch.zeros_like(tails), tails // n_rel, tails % n_rel], 1),
                    torch.stack([torch.ones_like(heads), heads // n_rel, heads % n_rel], 1),
                ]
            )
        self.valid = None if valid is None or len(valid) == 0 else np.asarray(valid)
        self.valid_index = None
        if self.valid is not None and c.eval_every:
            known = self.valid if filter_triples is None else filter_triples
            self.valid_index = FilterIndex(torch.as_tensor(np.asarray(known), dtype=torch.long), n_ent, n_rel)
            if c.eval_max_triples and len(self.valid) > c.eval_max_triples:
                keep = np.random.default_rng(c.seed).permutation(len(self.valid))[: c.eval_max_triples]
                self.valid = self.valid[np.sort(keep)]
        self._inputs = {"train triples": checksum(self.train.numpy())}
        if self.valid is not None:
            self._inputs["valid triples"] = checksum(np.asarray(self.valid, dtype=np.int64))

    @property
    def validating(self) -> bool:
        return self.valid_index is not None

    # -- engine hooks ---------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> None:
        c, m = self.config, self.model
        self.device = ctx.device
        self.sampler = None
        if c.num_neighbors:
            self.sampler = m.make_sampler(c.num_neighbors, ctx.generator)  # type: ignore[operator]  # GNNs only
        if c.loop == "slcwa":
            self.negatives = NegativeSampler(
                self.train,
                m.num_entities,
                m.num_relations,
                c.num_negatives,
                c.corruption,
                c.filter_negatives,
                ctx.generator,
            )

    def _data(self) -> torch.Tensor:
        return self.train if self.config.loop == "slcwa" else self.queries

    def train_batches(self, epoch: int, ctx: RunContext) -> Iterator[torch.Tensor]:
        data, bs = self._data(), self.config.batch_size
        idx = ctx.shard(len(data), epoch)
        return (data[idx[i : i + bs]] for i in range(0, len(idx), bs))

    def num_batches(self, epoch: int, ctx: RunContext) -> int:
        return math.ceil(math.ceil(len(self._data()) / ctx.world_size) / self.config.batch_size)

    def training_step(self, batch: torch.Tensor) -> StepOutput:
        if self.config.loop == "slcwa":
            return StepOutput(self._slcwa_loss(batch), num_samples=len(batch))
        loss, covered = self._lcwa_loss(batch)
        return StepOutput(loss, num_samples=covered)

    def configure_optimizer(self) -> Any:
        return build_optimizer(self.config.optimizer, self.model, lr=self.config.lr)

    def post_step(self) -> None:
        self.model.post_step()

    def validate(self, ctx: RunContext) -> dict[str, float]:
        if self.valid_index is None or self.valid is None:
            return {}
        res = evaluate(self.model, self.valid, None, filter_index=self.valid_index)
        return {"valid/mrr": res.mrr, "valid/hits_at_10": res.both.hits_at_10}

    def fingerprint_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.to_dict().items() if k not in _NOT_FINGERPRINTED}

    def fingerprint_inputs(self) -> dict[str, str]:
        return dict(self._inputs)

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_weights(state)

    def checkpoint_files(self, directory: Path) -> None:
        import json

        (directory / CONFIG_NAME).write_text(json.dumps(self.model.describe(), indent=2) + "\n")

    # -- step functions -------------------------------------------------------------------
    def _regularization(self, terms: list[torch.Tensor]) -> torch.Tensor:
        c = self.config
        return c.regularizer_weight * REGULARIZERS.get(c.regularizer)(self.model, terms)  # type: ignore[arg-type]

    def _slcwa_loss(self, pos: torch.Tensor) -> torch.Tensor:
        neg, weight = self.negatives.sample(pos)  # (B, K, 3), (B, K)
        b = pos.shape[0]
        trip = torch.cat([pos, neg.view(-1, 3)]).to(self.device)  # (B + B*K, 3)
        h, r, t = trip.unbind(1)
        if self.sampler is not None:
            scores = self.model.score_hrt_sampled(h, r, t, self.sampler)  # type: ignore[operator]  # GNNs only
        else:
            scores = self.model.score_hrt(h, r, t)  # (B + B*K,)
        w = weight.to(self.device) if weight is not None else None
        loss = self.loss.slcwa(scores[:b].float(), scores[b:].view(b, -1).float(), w)
        if self.config.regularizer:
            ph, pr, pt = trip[:b].unbind(1)
            loss = loss + self._regularization(self.model.regularization_terms(ph, pr, pt))
        return loss

    def _lcwa_loss(self, q: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Loss of a batch of queries and the number of training triples they cover (over 2)."""
        losses, reg_terms, covered = [], [], 0
        for side in (0, 1):
            sel = q[q[:, 0] == side]
            if len(sel) == 0:
                continue
            e, r = sel[:, 1], sel[:, 2]
            ed, rd = e.to(self.device), r.to(self.device)
            if side == 0:
                scores = self.model.score_t(ed, rd)  # (b, N)
                rows, cols = self.train_index.tails(e, r)
            else:
                scores = self.model.score_h(rd, ed)
                rows, cols = self.train_index.heads(r, e)
            covered += len(rows)
            targets = torch.zeros_like(scores, dtype=torch.float32)
            targets[rows.to(self.device), cols.to(self.device)] = 1.0
            losses.append(self.loss.lcwa(scores.float(), targets) * len(sel))
            if self.config.regularizer:
                reg_terms += self.model.regularization_terms(ed, rd, ed)[:2]
        loss = torch.stack(losses).sum() / len(q)
        if self.config.regularizer:
            loss = loss + self._regularization(reg_terms)
        return loss, max(1, covered // 2)


class Trainer:
    """Trains ``model`` on ``train`` triples under ``config`` with the engine; see :func:`train_model`."""

    def __init__(
        self,
        model: KGEModel,
        train: np.ndarray,
        config: TrainConfig,
        valid: np.ndarray | None = None,
        filter_triples: np.ndarray | None = None,
        run_dir: str | Path | None = None,
        callback: Callable[[ProgressEvent], None] | None = None,
    ) -> None:
        self.task = KGETask(model, train, config, valid, filter_triples)
        self.config = config
        progress = None if callback is None else [callback]
        self.engine = Engine(self.task, engine_config(config, self.task.validating), run_dir, progress)

    def fit(self, resume: bool = False) -> TrainingResult:
        return _training_result(self.engine.fit(resume), len(self.task.train))


def _training_result(fit: FitResult, num_train: int) -> TrainingResult:
    history = []
    for rec in fit.history:
        row = {
            "epoch": rec["epoch"],
            "loss": rec["loss"],
            "seconds": rec["seconds"],
            "triples_per_second": num_train / max(rec["seconds"], 1e-9),
        }
        if "valid/mrr" in rec:
            row["valid_mrr"] = rec["valid/mrr"]
            row["valid_hits_at_10"] = rec["valid/hits_at_10"]
        history.append(row)
    return TrainingResult(history, fit.best_epoch, fit.best_metric, fit.stopped_early, fit.epochs_run)


def train_model(
    model: KGEModel,
    train: np.ndarray,
    config: TrainConfig,
    valid: np.ndarray | None = None,
    filter_triples: np.ndarray | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[ProgressEvent], None] | None = None,
) -> TrainingResult:
    """Train ``model`` in place on ``train`` ``(n, 3)`` triples.

    Args:
        valid: validation triples for early stopping (used when ``config.eval_every`` > 0).
        filter_triples: known true triples filtered out of validation ranks (default: ``valid`` only).
        run_dir: where checkpoints and TensorBoard events go (None: nothing is written).
        resume: continue from ``run_dir/checkpoint``.
        callback: receives the engine's :class:`~kemm.training.ProgressEvent` (default: plain
            progress lines logged every minute).
    """
    return Trainer(model, train, config, valid, filter_triples, run_dir, callback).fit(resume)
