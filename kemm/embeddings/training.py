"""Training loops: sLCWA (negative sampling) and LCWA (1-vs-all), with checkpoint/resume.

A run is repeatable: the seed fixes initialisation, shuffling and negative sampling (one
``torch.Generator`` whose state is checkpointed with the model and optimiser), so resuming from a
checkpoint reaches exactly the parameters an uninterrupted run reaches. A non-finite loss stops
training with the epoch and step; the last good checkpoint is left untouched. The library never
prints: progress goes to an optional callback (the CLI draws a rich progress bar from it) and to
TensorBoard event files.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kemm.embeddings.base import KGEModel
from kemm.embeddings.config import TrainConfig
from kemm.embeddings.evaluation import FilterIndex, evaluate
from kemm.embeddings.gnn import GNNModel
from kemm.embeddings.losses import build_loss
from kemm.embeddings.negatives import NegativeSampler
from kemm.errors import KemmError
from kemm.utils.io import atomic_directory

logger = logging.getLogger(__name__)


class TrainingDivergedError(KemmError):
    """The loss became NaN or infinite."""


@dataclass
class TrainingProgress:
    """What the progress callback receives.

    Attributes:
        phase: ``"step"`` (during an epoch), ``"epoch"`` (an epoch ended) or ``"valid"`` (after validation).
        epoch: 1-based epoch; step: 1-based step within it; steps: steps per epoch; epochs: total epochs.
        loss: mean loss so far in this epoch.
        triples_per_second: positive training triples per second in this epoch.
        valid_mrr: last validation MRR (None before the first validation).
    """

    phase: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    triples_per_second: float
    valid_mrr: float | None = None


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


class MultiOptimizer:
    """One optimiser for sparse-gradient tables and one for the dense parameters, stepped together."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    def zero_grad(self) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=True)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> list[dict]:
        return [o.state_dict() for o in self.optimizers]

    def load_state_dict(self, states: list[dict]) -> None:
        for o, s in zip(self.optimizers, states):
            o.load_state_dict(s)


def build_optimizer(model: KGEModel, name: str, lr: float) -> MultiOptimizer:
    """Sparse tables (``nn.Embedding(sparse=True)``) get ``SparseAdam`` (or sparse-capable Adagrad/SGD)."""
    sparse_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding) and m.sparse}
    sparse = [p for p in model.parameters() if id(p) in sparse_ids]
    dense = [p for p in model.parameters() if id(p) not in sparse_ids]
    name = name.lower().replace("_", "")
    opts: list[torch.optim.Optimizer] = []
    if name in ("adam", "sparseadam"):
        if sparse:
            opts.append(torch.optim.SparseAdam(sparse, lr=lr))
        if dense:
            opts.append(torch.optim.Adam(dense, lr=lr))
    elif name == "adagrad":
        opts.append(torch.optim.Adagrad(sparse + dense, lr=lr))
    elif name == "sgd":
        opts.append(torch.optim.SGD(sparse + dense, lr=lr))
    else:
        raise KemmError(f"unknown optimizer {name!r}; choose adam, adagrad or sgd")
    return MultiOptimizer(opts)


def regularization(model: KGEModel, terms: list[torch.Tensor], kind: str) -> torch.Tensor:
    """L2: mean squared norm of the batch's rows; N3: mean cubed (complex) modulus (Lacroix et al., 2018)."""
    total = terms[0].new_zeros(())
    for x in terms:
        if kind == "l2":
            total = total + x.pow(2).sum(-1).mean()
        else:
            if model.is_complex:
                d = x.shape[-1] // 2
                x = torch.sqrt(x[..., :d] ** 2 + x[..., d:] ** 2 + 1e-12)
            total = total + x.abs().pow(3).sum(-1).mean()
    return total / max(1, len(terms))


class Trainer:
    """Trains ``model`` on ``train`` triples under ``config``; see :func:`train_model`."""

    def __init__(
        self,
        model: KGEModel,
        train: np.ndarray,
        config: TrainConfig,
        valid: np.ndarray | None = None,
        filter_triples: np.ndarray | None = None,
        run_dir: str | Path | None = None,
        callback: Callable[[TrainingProgress], None] | None = None,
    ) -> None:
        self.model = model
        self.config = c = config
        self.device = torch.device(c.device)
        self.train = torch.as_tensor(np.asarray(train), dtype=torch.long)
        if len(self.train) == 0:
            raise KemmError("no training triples: the train split is empty")
        self.valid = None if valid is None or len(valid) == 0 else np.asarray(valid)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callback = callback
        self.generator = torch.Generator().manual_seed(c.seed)
        self.loss = build_loss(c.loss, **c.loss_kwargs)
        self.optimizer = build_optimizer(model, c.optimizer, c.lr)
        n_ent, n_rel = model.num_entities, model.num_relations
        self.sampler = None
        if c.num_neighbors:
            if not isinstance(model, GNNModel):
                raise KemmError("num_neighbors (neighbour-sampled training) applies to GNN models only")
            if c.loop != "slcwa":
                raise KemmError("neighbour-sampled training needs loop: slcwa")
            self.sampler = model.make_sampler(c.num_neighbors, self.generator)
        if c.loop == "slcwa":
            self.negatives = NegativeSampler(
                self.train, n_ent, n_rel, c.num_negatives, c.corruption, c.filter_negatives, self.generator
            )
        else:
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
        self.valid_index = None
        if self.valid is not None and c.eval_every:
            known = self.valid if filter_triples is None else filter_triples
            self.valid_index = FilterIndex(torch.as_tensor(np.asarray(known), dtype=torch.long), n_ent, n_rel)
            if c.eval_max_triples and len(self.valid) > c.eval_max_triples:
                keep = np.random.default_rng(c.seed).permutation(len(self.valid))[: c.eval_max_triples]
                self.valid = self.valid[np.sort(keep)]
        self.result = TrainingResult()
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_evals = 0
        self.writer = None

    # -- one step -------------------------------------------------------------------------
    def _slcwa_step(self, pos: torch.Tensor) -> torch.Tensor:
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
            loss = loss + self.config.regularizer_weight * regularization(
                self.model, self.model.regularization_terms(ph, pr, pt), self.config.regularizer
            )
        return loss

    def _lcwa_step(self, q: torch.Tensor) -> torch.Tensor:
        losses, reg_terms = [], []
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
            targets = torch.zeros_like(scores, dtype=torch.float32)
            targets[rows.to(self.device), cols.to(self.device)] = 1.0
            losses.append(self.loss.lcwa(scores.float(), targets) * len(sel))
            if self.config.regularizer:
                reg_terms += self.model.regularization_terms(ed, rd, ed)[:2]
        loss = torch.stack(losses).sum() / len(q)
        if self.config.regularizer:
            loss = loss + self.config.regularizer_weight * regularization(
                self.model, reg_terms, self.config.regularizer
            )
        return loss

    # -- loop -----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainingResult:
        c = self.config
        start_epoch = 1
        if resume:
            start_epoch = self._load_checkpoint() + 1
        if self.run_dir is not None and c.tensorboard:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=start_epoch)
        data = self.train if c.loop == "slcwa" else self.queries
        steps = math.ceil(len(data) / c.batch_size)
        self.model.to(self.device).train()
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=c.amp and self.device.type == "cuda")
        every = max(1, steps // 100)
        try:
            for epoch in range(start_epoch, c.epochs + 1):
                t0 = time.perf_counter()
                perm = torch.randperm(len(data), generator=self.generator)
                total = 0.0
                for step in range(steps):
                    batch = data[perm[step * c.batch_size : (step + 1) * c.batch_size]]
                    with autocast:
                        loss = self._slcwa_step(batch) if c.loop == "slcwa" else self._lcwa_step(batch)
                    value = loss.item()
                    if not math.isfinite(value):
                        where = (
                            f"last good checkpoint: {self.run_dir / 'checkpoint'} (epoch {self.result.epochs_run})"
                            if self.run_dir is not None and (self.run_dir / "checkpoint").exists()
                            else "no checkpoint was written yet"
                        )
                        raise TrainingDivergedError(
                            f"loss is {value} at epoch {epoch}, step {step + 1}; stopped. "
                            f"{where}. Try a lower lr or a regularizer."
                        )
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
                    self.model.post_step()
                    total += value
                    if self.callback is not None and (step + 1) % every == 0 and step + 1 < steps:
                        dt = time.perf_counter() - t0
                        self._emit(
                            "step",
                            epoch,
                            step + 1,
                            steps,
                            total / (step + 1),
                            min(len(self.train), (step + 1) * c.batch_size) / dt,
                        )
                seconds = time.perf_counter() - t0
                rec = {
                    "epoch": epoch,
                    "loss": total / steps,
                    "seconds": seconds,
                    "triples_per_second": len(self.train) / seconds,
                }
                self.result.history.append(rec)
                self.result.epochs_run = epoch
                self._emit("epoch", epoch, steps, steps, rec["loss"], rec["triples_per_second"])
                self._log_scalars(
                    epoch, {"train/loss": rec["loss"], "train/triples_per_second": rec["triples_per_second"]}
                )
                stop = False
                if self.valid_index is not None and epoch % c.eval_every == 0:
                    stop = self._validate(epoch, rec)
                    self.model.train()
                last = stop or epoch == c.epochs
                if self.run_dir is not None and (epoch % c.checkpoint_every == 0 or last):
                    self._save_checkpoint(epoch)
                if stop:
                    self.result.stopped_early = True
                    logger.info(
                        "early stopping at epoch %d (best valid MRR %.4f at epoch %d)",
                        epoch,
                        self.result.best_valid_mrr,
                        self.result.best_epoch,
                    )
                    break
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.best_state is not None:
            self.model.load_weights(self.best_state)
        self.model.eval()
        return self.result

    def _emit(self, phase: str, epoch: int, step: int, steps: int, loss: float, tps: float) -> None:
        if self.callback is not None:
            self.callback(
                TrainingProgress(
                    phase, epoch, self.config.epochs, step, steps, loss, tps, self.result.best_valid_mrr
                )
            )

    def _log_scalars(self, epoch: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, epoch)

    def _validate(self, epoch: int, rec: dict) -> bool:
        assert self.valid is not None  # only called when there is a validation set
        res = evaluate(self.model, self.valid, None, filter_index=self.valid_index)
        rec["valid_mrr"] = res.mrr
        rec["valid_hits_at_10"] = res.both.hits_at_10
        self._log_scalars(epoch, {"valid/mrr": res.mrr, "valid/hits_at_10": res.both.hits_at_10})
        if self.result.best_valid_mrr is None or res.mrr > self.result.best_valid_mrr:
            self.result.best_valid_mrr, self.result.best_epoch = res.mrr, epoch
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        self._emit("valid", epoch, 0, 0, rec["loss"], rec["triples_per_second"])
        patience = self.config.early_stopping_patience
        return bool(patience and self.bad_evals >= patience)

    # -- checkpoints ----------------------------------------------------------------------
    def _save_checkpoint(self, epoch: int) -> None:
        assert self.run_dir is not None
        state = {
            "epoch": epoch,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "result": copy.deepcopy(self.result),
            "bad_evals": self.bad_evals,
            "best_state": self.best_state,
            "config": self.config.to_dict(),
        }
        with atomic_directory(self.run_dir / "checkpoint") as d:
            self.model.save(d)
            torch.save(state, d / "state.pt")
        logger.debug("checkpoint at epoch %d", epoch)

    def _load_checkpoint(self) -> int:
        from safetensors.torch import load_file

        d = None if self.run_dir is None else self.run_dir / "checkpoint"
        if d is None or not (d / "state.pt").exists():
            raise KemmError(f"nothing to resume: no checkpoint in {d}")
        state = torch.load(d / "state.pt", weights_only=False)
        saved = dict(state["config"])
        now = self.config.to_dict()
        diff = sorted(k for k in now if k != "epochs" and saved.get(k) != now[k])
        if diff:
            raise KemmError(
                f"cannot resume {self.run_dir}: the config differs from the checkpoint's in {', '.join(diff)}"
            )
        self.model.load_weights(load_file(str(d / "model.safetensors"), device=str(self.device)))
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.result = state["result"]
        self.bad_evals = state["bad_evals"]
        self.best_state = state["best_state"]
        logger.info("resuming %s after epoch %d", self.run_dir, state["epoch"])
        return int(state["epoch"])


def train_model(
    model: KGEModel,
    train: np.ndarray,
    config: TrainConfig,
    valid: np.ndarray | None = None,
    filter_triples: np.ndarray | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[TrainingProgress], None] | None = None,
) -> TrainingResult:
    """Train ``model`` in place on ``train`` ``(n, 3)`` triples.

    Args:
        valid: validation triples for early stopping (used when ``config.eval_every`` > 0).
        filter_triples: known true triples filtered out of validation ranks (default: ``valid`` only).
        run_dir: where checkpoints and TensorBoard events go (None: nothing is written).
        resume: continue from ``run_dir/checkpoint``.
        callback: receives :class:`TrainingProgress` events.
    """
    return Trainer(model, train, config, valid, filter_triples, run_dir, callback).fit(resume)
