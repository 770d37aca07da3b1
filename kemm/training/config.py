"""Typed configuration of the training engine: what every run (KGE, pre-training, fine-tuning) shares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kemm import config as _config
from kemm.errors import KemmError

#: fields a resumed run may change without changing its fingerprint: how long, where and how
#: loudly it runs, not what it computes
RESUMABLE_CHANGES = (
    "max_epochs",
    "max_steps",
    "device",
    "checkpoint_every",
    "checkpoint_every_steps",
    "log_every_seconds",
    "tensorboard",
)


@dataclass
class EngineConfig:
    """How :class:`kemm.training.Engine` runs a task.

    Attributes:
        max_epochs: passes over the task's training batches (default 1).
        max_steps: stop after this many optimiser steps, mid-epoch if need be (None: no limit).
        grad_accumulation: micro-batches whose gradients add up to one optimiser step (default 1).
            Each micro-batch's loss is divided by this, so ``k`` micro-batches of ``b`` equal one
            batch of ``k * b`` for a mean loss.
        clip_grad_norm: clip the global gradient norm to this before each step (None: no clipping).
        precision: ``"fp32"``; ``"bf16"`` (autocast on CPU and CUDA); ``"fp16"`` (autocast with a
            gradient scaler, CUDA only).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Under
            torchrun each rank takes ``cuda:LOCAL_RANK``.
        seed: seed of the engine's generators (rank ``r`` samples with ``seed + r``; shuffling
            uses ``seed + epoch`` on every rank, as ``DistributedSampler`` does).
        validate_every: validate every this many epochs (0: not at epoch ends).
        validate_every_steps: also validate every this many optimiser steps (None: never mid-epoch).
        early_stopping_metric: validation metric that decides the best model and early stopping,
            e.g. ``"valid/mrr"`` (None: the last model is the result, no early stopping).
        early_stopping_mode: ``"max"`` (higher is better) or ``"min"``.
        early_stopping_patience: stop after this many validations without improvement (0: never stop
            early; the best model is still kept).
        restore_best: when the run ends, load the weights of the best validation (needs a metric).
        checkpoint_every: write a resumable checkpoint every this many epochs (and at the end;
            0: only at the end).
        checkpoint_every_steps: also checkpoint every this many optimiser steps (None: only at epoch
            ends); a run resumed from a mid-epoch checkpoint skips the batches already done.
        log_every_seconds: interval of the plain progress line logged when the output is not a
            terminal; it is written during a long step too, so a slow step never looks hung.
        tensorboard: write TensorBoard scalars under ``RUN/tb`` (rank 0).
    """

    max_epochs: int = 1
    max_steps: int | None = None
    grad_accumulation: int = 1
    clip_grad_norm: float | None = None
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: str = "auto"
    seed: int = 0
    validate_every: int = 1
    validate_every_steps: int | None = None
    early_stopping_metric: str | None = None
    early_stopping_mode: Literal["max", "min"] = "max"
    early_stopping_patience: int = 0
    restore_best: bool = True
    checkpoint_every: int = 1
    checkpoint_every_steps: int | None = None
    log_every_seconds: float = 60.0
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise KemmError(f"max_epochs must be at least 1, got {self.max_epochs}")
        if self.grad_accumulation < 1:
            raise KemmError(f"grad_accumulation must be at least 1, got {self.grad_accumulation}")
        for name in ("max_steps", "validate_every_steps", "checkpoint_every_steps"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise KemmError(f"{name} must be at least 1 or null, got {v}")
        if self.clip_grad_norm is not None and self.clip_grad_norm <= 0:
            raise KemmError(f"clip_grad_norm must be positive or null, got {self.clip_grad_norm}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise KemmError(f"precision must be 'fp32', 'bf16' or 'fp16', got {self.precision!r}")
        if self.early_stopping_mode not in ("max", "min"):
            raise KemmError(f"early_stopping_mode must be 'max' or 'min', got {self.early_stopping_mode!r}")
        if self.log_every_seconds <= 0:
            raise KemmError(f"log_every_seconds must be positive, got {self.log_every_seconds}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> EngineConfig:
        """Checked construction: unknown keys and values of the wrong type name key and file."""
        return _config.from_dict(cls, data, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> EngineConfig:
        return _config.from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
