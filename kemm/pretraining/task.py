"""``PretrainTask``: vision-language pre-training as a :class:`kemm.training.Task` on the one engine.

The task's ``model`` is a :class:`PretrainModel`: the vision-language backbone
(:mod:`kemm.models`) and the objectives' heads. One step (:meth:`PretrainTask.training_step`):

1. each enabled objective corrupts the batch in turn (CPU, the engine's generator);
2. both views move to the device; a :class:`~kemm.pretraining.objectives.StepContext` runs the
   forward passes the objectives ask for, each once;
3. ``loss = sum_k weight_k * loss_k``; ``loss/<name>`` and the objectives' accuracies are logged,
   with ``data/wait_fraction``, the share of the step spent waiting for the ``DataLoader``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.data import Collator, PairDataset
from kemm.pretraining.objectives import Objective, StepContext
from kemm.training import RunContext, StepOutput, Task
from kemm.training.optim import build_optimizer

logger = logging.getLogger(__name__)


class PretrainModel(nn.Module):
    """The backbone and the objectives' heads, trained and checkpointed together.

    Attributes:
        backbone: the vision-language model (saved alone to ``RUN/model`` for evaluation).
        objectives: name -> :class:`~kemm.pretraining.objectives.Objective`, in step order.
    """

    backbone: Any
    objectives: nn.ModuleDict

    def __init__(self, backbone: nn.Module, objectives: dict[str, Objective]) -> None:
        super().__init__()
        self.backbone = backbone
        self.objectives = nn.ModuleDict(objectives)


class TimedLoader:
    """Iterates a ``DataLoader`` and records, per batch, the seconds spent waiting for it and the
    seconds since the previous batch was handed out (so ``wait / interval`` is the data-wait share)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.last_wait = 0.0
        self.last_interval = 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.loader)
        prev = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            now = time.perf_counter()
            self.last_wait, self.last_interval = now - t0, now - prev
            prev = now
            yield batch


def _touch_extras(step: StepContext) -> torch.Tensor:
    """``0 *`` the sum of every fusion extra of the step's passes: parameters that only feed an
    extra no objective reads (ERNIE's entity stream after its last layer) then still get a (zero)
    gradient, as DistributedDataParallel requires of every trainable parameter."""
    zero = torch.zeros(())
    for out in step.outputs():
        for x in (getattr(out, "extras", None) or {}).values():
            if isinstance(x, torch.Tensor) and x.requires_grad:
                zero = zero.to(x.device) + 0.0 * x.float().sum()
    return zero


class PretrainTask(Task):
    """Multi-objective pre-training; see the module docstring.

    Args:
        model: backbone + heads (:class:`PretrainModel`).
        train: the training pairs; valid: validation pairs (None: no validation).
        collator: batches items (:class:`~kemm.pretraining.data.Collator`).
        batch_size, num_workers: of the training ``DataLoader``.
        optimizer, optimizer_options: :data:`kemm.training.optim.OPTIMIZERS` name and options.
        warmup_steps: linear learning-rate warm-up.
        evaluator: ``evaluator(task, ctx) -> metrics`` run by :meth:`validate` (None: none).
        fingerprint: the task's settings (resuming with others is refused); inputs: input checksums.
    """

    def __init__(
        self,
        model: PretrainModel,
        train: PairDataset,
        collator: Collator,
        batch_size: int,
        num_workers: int = 0,
        optimizer: str = "adamw",
        optimizer_options: dict[str, Any] | None = None,
        warmup_steps: int = 0,
        valid: PairDataset | None = None,
        evaluator: Any = None,
        fingerprint: dict[str, Any] | None = None,
        inputs: dict[str, str] | None = None,
    ) -> None:
        self.model: PretrainModel = model  # type: ignore[assignment]
        self.train = train
        self.valid = valid
        self.collator = collator
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.optimizer_name = optimizer
        self.optimizer_options = dict(optimizer_options or {})
        self.warmup_steps = warmup_steps
        self.evaluator = evaluator
        self._fingerprint = fingerprint or {}
        self._inputs = inputs or {}
        self.ctx: RunContext | None = None
        self.loader: TimedLoader | None = None
        self.steps_done = 0
        self.curve: list[dict[str, float]] = []  # per step: "step", "loss", "loss/<objective>"
        self.valid_detection: dict[str, float] | None = None  # data.valid_objects: detected
        self._optimizer: Any = None

    @property
    def objectives(self) -> dict[str, Objective]:
        return {k: v for k, v in self.model.objectives.items() if v.config.enabled}  # type: ignore[misc,union-attr]

    def setup(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def loader_for(
        self, dataset: PairDataset, epoch: int, ctx: RunContext, shuffle: bool, batch_size: int
    ) -> DataLoader:
        sampler = ctx.sampler(dataset, shuffle=shuffle)
        sampler.set_epoch(epoch)
        workers = self.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=workers,
            collate_fn=self.collator,
            pin_memory=ctx.device.type == "cuda",
            prefetch_factor=4 if workers else None,
            persistent_workers=False,
            # its own generator: creating the iterator then never draws from the global RNG, whose
            # state (dropout) a checkpoint restores mid-epoch
            generator=torch.Generator().manual_seed(ctx.seed + epoch),
        )

    def train_batches(self, epoch: int, ctx: RunContext) -> TimedLoader:
        self.loader = TimedLoader(self.loader_for(self.train, epoch, ctx, True, self.batch_size))
        return self.loader

    def num_batches(self, epoch: int, ctx: RunContext) -> int | None:
        n = len(self.train) // ctx.world_size if ctx.world_size > 1 else len(self.train)
        return -(-n // self.batch_size)

    def training_step(self, batch: PretrainBatch) -> StepOutput:
        assert self.ctx is not None
        ctx = self.ctx
        total, logs = self.objective_losses(batch, ctx.generator, ctx.device)
        if self.loader is not None and self.loader.last_interval > 0:
            logs["data/wait_fraction"] = self.loader.last_wait / self.loader.last_interval
        row = {"step": float(self.steps_done + 1), "loss": float(total.detach())}
        row.update({k: v for k, v in logs.items() if k.startswith("loss/")})
        self.curve.append(row)
        return StepOutput(total, logs, batch.batch_size)

    def objective_losses(
        self, batch: PretrainBatch, generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted multi-task loss of one batch and the per-objective logs."""
        corrupted = batch
        objectives = self.objectives
        for obj in objectives.values():
            corrupted = obj.corrupt(corrupted, generator)
        step = StepContext(self.model.backbone, batch.to(device), corrupted.to(device), generator)
        total: torch.Tensor | None = None
        logs: dict[str, float] = {}
        for name, obj in objectives.items():
            out = obj(step)
            term = obj.weight * out.loss.float()
            total = term if total is None else total + term
            logs[f"loss/{name}"] = float(out.loss.detach())
            logs.update(out.logs)
        assert total is not None
        if self.ctx is not None and self.ctx.world_size > 1:
            total = total + _touch_extras(step)
        return total, logs

    def configure_optimizer(self) -> Any:
        self._optimizer = build_optimizer(self.optimizer_name, self.model, **self.optimizer_options)
        self._set_lr()
        return self._optimizer

    def _set_lr(self) -> None:
        if not self.warmup_steps or self._optimizer is None:
            return
        base = float(self.optimizer_options.get("lr", 1e-3))
        lr = base * min(1.0, (self.steps_done + 1) / self.warmup_steps)
        for opt in self._optimizer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    def post_step(self) -> None:
        self.steps_done += 1
        self._set_lr()

    def validate(self, ctx: RunContext) -> dict[str, float]:
        if self.evaluator is None or self.valid is None:
            return {}
        return self.evaluator(self, ctx)

    def fingerprint_config(self) -> dict[str, Any]:
        return self._fingerprint

    def fingerprint_inputs(self) -> dict[str, str]:
        return self._inputs

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, "curve": self.curve}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state.get("steps_done", 0))
        self.curve = list(state.get("curve", []))
        self._set_lr()
