"""Data parallelism through ``torch.distributed``, set up from torchrun's environment.

``torchrun --nproc-per-node N -m kemm.cli ...`` starts N processes with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and a rendezvous address in their environment. :func:`init_distributed` joins the
process group (gloo on CPU, nccl on CUDA); every rank then trains on its shard of each epoch
(:func:`shard_indices`, the same indices :class:`torch.utils.data.DistributedSampler` yields),
gradients are averaged by ``DistributedDataParallel``, metrics are averaged with
:func:`all_reduce_mean`, and rank 0 alone logs and writes checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from kemm.errors import KemmError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run.

    Attributes:
        rank: 0 .. world_size - 1; local_rank: index on this machine (its GPU).
        world_size: number of processes (1: no process group).
        device: where collective tensors live (CUDA for nccl).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` outside it)."""
    try:
        return (
            int(os.environ.get("RANK", 0)),
            int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)),
        )
    except ValueError as e:
        raise KemmError(f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {e}") from None


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA); a no-op for one process."""
    rank, world, local = env_world()
    if world <= 1:
        return DistContext(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        logger.debug("rank %d/%d joined the %s process group", rank, world, backend)
    return DistContext(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, device=device
    )


def cleanup(ctx: DistContext) -> None:
    """Leave the process group (after a final barrier)."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sums of ``values`` over all ranks (float64)."""
    if not ctx.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.tolist()


def all_reduce_mean(metrics: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Means over ranks of each metric (every rank must pass the same keys)."""
    if not ctx.enabled or not metrics:
        return dict(metrics)
    keys = sorted(metrics)
    sums = all_reduce_sum([float(metrics[k]) for k in keys], ctx)
    return {k: s / ctx.world_size for k, s in zip(keys, sums)}


def gather_json(obj: object, ctx: DistContext) -> list:
    """``obj`` of every rank, in rank order, sent as JSON bytes (no pickles)."""
    if not ctx.enabled:
        return [obj]
    data = torch.tensor(bytearray(json.dumps(obj).encode()), dtype=torch.uint8, device=ctx.device)
    size = torch.tensor([data.numel()], dtype=torch.long, device=ctx.device)
    sizes = [torch.zeros_like(size) for _ in range(ctx.world_size)]
    dist.all_gather(sizes, size)
    longest = max(int(s) for s in sizes)
    padded = torch.zeros(longest, dtype=torch.uint8, device=ctx.device)
    padded[: data.numel()] = data
    out = [torch.zeros_like(padded) for _ in range(ctx.world_size)]
    dist.all_gather(out, padded)
    return [json.loads(bytes(o[: int(s)].cpu().tolist()).decode()) for o, s in zip(out, sizes)]


def shard_indices(
    n: int,
    epoch: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    shuffle: bool = True,
    drop_last: bool = False,
) -> torch.Tensor:
    """This rank's indices of an epoch over ``n`` items: exactly ``DistributedSampler``'s order.

    The permutation is seeded with ``seed + epoch`` (the same on every rank); without ``drop_last``
    it is padded by repeating its start to a multiple of ``world_size``, and rank ``r`` takes every
    ``world_size``-th index from ``r``. Returns an int64 tensor of ``ceil(n / world_size)`` indices.
    """
    if shuffle:
        g = torch.Generator().manual_seed(seed + epoch)
        idx = torch.randperm(n, generator=g)
    else:
        idx = torch.arange(n)
    if world_size == 1:
        return idx
    if drop_last and n % world_size:
        per = math.ceil((n - world_size) / world_size)
    else:
        per = math.ceil(n / world_size)
    total = per * world_size
    if total > n:
        idx = torch.cat([idx, idx.repeat(math.ceil((total - n) / max(1, n)))[: total - n]])
    return idx[:total][rank:total:world_size]
