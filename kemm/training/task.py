"""What a kind of run implements for the engine: a model, its batches and one step function.

A new kind of run (KGE training, vision-language pre-training with several objectives, QA
fine-tuning) subclasses :class:`Task`; the loop, precision, accumulation, clipping, validation,
early stopping, checkpoints, resumption and data parallelism are the engine's.

>>> class Regression(Task):
...     def __init__(self, x, y):
...         self.model, self.x, self.y = torch.nn.Linear(x.shape[1], 1), x, y
...     def train_batches(self, epoch, ctx):
...         idx = ctx.shard(len(self.x), epoch)  # this rank's shuffled share
...         return [idx[i : i + 8] for i in range(0, len(idx), 8)]
...     def training_step(self, batch):
...         pred = self.model(self.x[batch]).squeeze(-1)
...         return StepOutput(torch.nn.functional.mse_loss(pred, self.y[batch]), num_samples=len(batch))
...     def configure_optimizer(self):
...         return torch.optim.SGD(self.model.parameters(), lr=0.1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from kemm.training.distributed import shard_indices


@dataclass
class StepOutput:
    """What a training step returns.

    Attributes:
        loss: scalar tensor to minimise (a mean over the batch).
        logs: extra floats to average over the epoch and log (``{"loss/itm": 0.3}``).
        num_samples: training samples in the batch (for samples/s).
    """

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)
    num_samples: int = 1


@dataclass
class RunContext:
    """What the engine hands a task: where it runs and its random generator.

    Attributes:
        device: the device the model is on.
        generator: this rank's generator (seeded ``seed + rank``, state checkpointed): draw every
            random number of a step (negatives, masks) from it so a resumed run repeats exactly.
        rank, world_size: this process's place in a torchrun run (0 and 1 otherwise).
        seed: the engine's seed.
    """

    device: torch.device
    generator: torch.Generator
    rank: int = 0
    world_size: int = 1
    seed: int = 0

    def shard(self, n: int, epoch: int, shuffle: bool = True, drop_last: bool = False) -> torch.Tensor:
        """This rank's (shuffled) indices of ``n`` items for ``epoch``, as ``DistributedSampler``."""
        return shard_indices(n, epoch, self.seed, self.rank, self.world_size, shuffle, drop_last)

    def sampler(self, dataset: Dataset, shuffle: bool = True, drop_last: bool = False) -> DistributedSampler:
        """A ``DistributedSampler`` for a ``DataLoader`` (with workers); call ``set_epoch(epoch)`` each epoch."""
        return DistributedSampler(
            dataset,  # type: ignore[arg-type]
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=shuffle,
            seed=self.seed,
            drop_last=drop_last,
        )


class Task:
    """Base class of a kind of run; override what the run needs.

    Required: ``model`` (an ``nn.Module`` attribute), :meth:`train_batches`,
    :meth:`training_step` and :meth:`configure_optimizer`. The rest have working defaults.

    Attributes:
        model: the module trained (moved to the device by the engine before :meth:`setup`).
        broadcast_buffers: under DDP, re-broadcast rank 0's buffers each step (set False for
            constant buffers such as a KG's edge index).
        find_unused_parameters: under DDP, allow steps that leave some parameters without a
            gradient (sampled subgraphs, optional objectives); it costs a graph traversal a step.
    """

    model: nn.Module
    broadcast_buffers: bool = True
    find_unused_parameters: bool = False

    def setup(self, ctx: RunContext) -> None:
        """Called once the device and rank are known, before the optimiser is built."""

    def train_batches(self, epoch: int, ctx: RunContext) -> Iterable[Any]:
        """The batches of ``epoch`` (1-based) for this rank: a list, generator or ``DataLoader``.

        Must be determined by ``epoch`` and ``ctx.seed`` (use :meth:`RunContext.shard` or
        :meth:`RunContext.sampler`), not drawn from ``ctx.generator``, so that a run resumed
        mid-epoch can skip the batches it already did.
        """
        raise NotImplementedError

    def num_batches(self, epoch: int, ctx: RunContext) -> int | None:
        """Batches in ``epoch`` for the progress display (default: ``len()`` of the batches if any)."""
        return None

    def training_step(self, batch: Any) -> StepOutput:
        """Forward pass and loss of one (micro-)batch; the engine does backward and the step."""
        raise NotImplementedError

    def configure_optimizer(self) -> Any:
        """The optimiser (``torch.optim.Optimizer`` or one with ``optimizers``: a list of them)."""
        raise NotImplementedError

    def post_step(self) -> None:
        """Called after each optimiser step (projections, cache invalidation)."""

    def validate(self, ctx: RunContext) -> dict[str, float]:
        """Validation metrics (``{"valid/mrr": 0.31}``), under ``torch.no_grad``; averaged over ranks."""
        return {}

    def fingerprint_config(self) -> dict[str, Any]:
        """The task's settings, JSON-ready: resuming with other values is refused."""
        return {}

    def fingerprint_inputs(self) -> dict[str, str]:
        """Checksums of the task's inputs (``kemm.training.resume.checksum``): resuming with others is refused."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Extra JSON-ready state to checkpoint (beyond model, optimiser and random state)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load checkpointed weights into ``model`` (default: ``load_state_dict``)."""
        self.model.load_state_dict(state)

    def checkpoint_files(self, directory: Path) -> None:
        """Write extra files into a checkpoint being built (e.g. a model description)."""
