"""The one training loop of kemm: every kind of run is a :class:`~kemm.training.task.Task` on it.

``Engine(task, config, run_dir).fit(resume)`` runs epochs of ``task.train_batches``; each
micro-batch goes through ``task.training_step`` under autocast, its loss (divided by
``grad_accumulation``) is back-propagated, and every ``grad_accumulation`` micro-batches the
gradients are unscaled, clipped and stepped, then ``task.post_step`` runs. Validation runs every
``validate_every`` epochs (and/or ``validate_every_steps`` steps); the best value of
``early_stopping_metric`` decides the weights the run ends with and early stopping. A NaN or
infinite loss stops the run with the epoch and step, before any update, and leaves the last
good checkpoint as it was.

Under torchrun the model runs inside ``DistributedDataParallel``; each rank trains on its shard
of every epoch, losses and metrics are averaged over ranks, and rank 0 alone logs, writes
TensorBoard scalars and checkpoints (which hold every rank's random state).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.training import checkpoint as ckpt
from kemm.training.config import RESUMABLE_CHANGES, EngineConfig
from kemm.training.device import resolve_device
from kemm.training.distributed import (
    DistContext,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    env_world,
    gather_json,
    init_distributed,
)
from kemm.training.progress import PlainProgressLogger, ProgressEvent
from kemm.training.resume import (
    FINGERPRINT_NAME,
    Fingerprint,
    check_resume,
    finished,
    read_fingerprint,
    write_fingerprint,
)
from kemm.training.task import RunContext, StepOutput, Task

logger = logging.getLogger(__name__)

ProgressHandler = Callable[[ProgressEvent], None]


class TrainingDivergedError(KemmError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    """Outcome of :meth:`Engine.fit`.

    Attributes:
        history: one dict per epoch: ``epoch``, ``global_step``, ``loss``, ``seconds``,
            ``samples_per_second``, the task's mean logs and the epoch's validation metrics.
        best_metric: best value of ``early_stopping_metric`` (None without validation).
        best_epoch, best_step: epoch and optimiser step of that value.
        stopped_early: the run ended by early stopping.
        epochs_run: last completed epoch; global_step: optimiser steps done.
        metrics: the last validation's metrics.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    stopped_early: bool = False
    epochs_run: int = 0
    global_step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class _State:
    """Everything of the loop that a checkpoint restores (JSON-ready)."""

    result: FitResult = field(default_factory=FitResult)
    batch_in_epoch: int = 0  # micro-batches of the current epoch done (mid-epoch checkpoints)
    partial: list[float] = field(default_factory=list)  # sums of the current epoch so far
    partial_logs: dict[str, float] = field(default_factory=dict)
    bad_evals: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _State:
        return cls(
            FitResult(**d["result"]), d["batch_in_epoch"], d["partial"], d["partial_logs"], d["bad_evals"]
        )


class _StepModule(nn.Module):
    """Runs the task's step as ``forward``, so DistributedDataParallel sees the forward pass."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.model = task.model
        self._task = [task]  # a list: not a submodule
        self.last: StepOutput | None = None

    def forward(self, batch: Any) -> torch.Tensor:
        self.last = self._task[0].training_step(batch)
        return self.last.loss


def _with_last(items: Iterable[Any]) -> Iterator[tuple[Any, bool]]:
    """``(item, is_last)`` pairs (one item of look-ahead)."""
    it = iter(items)
    try:
        prev = next(it)
    except StopIteration:
        return
    for item in it:
        yield prev, False
        prev = item
    yield prev, True


def _optimizers(opt: Any) -> list[torch.optim.Optimizer]:
    return list(getattr(opt, "optimizers", [opt]))


def clip_gradients(parameters: list[nn.Parameter], max_norm: float) -> float:
    """Scale gradients so that their global L2 norm is at most ``max_norm``; sparse gradients count too.

    Returns the norm before clipping.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not any(g.is_sparse for g in grads):
        return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
    total = torch.zeros((), dtype=torch.float64)
    for g in grads:
        v = g.coalesce().values() if g.is_sparse else g
        total += v.detach().double().pow(2).sum().cpu()
    norm = float(total.sqrt())
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        for p in parameters:
            if p.grad is not None:
                p.grad = p.grad.coalesce() * coef if p.grad.is_sparse else p.grad.mul_(coef)
    return norm


class Engine:
    """Runs ``task`` under ``config``.

    Args:
        task: the kind of run (model, batches, step function, validation, optimiser).
        config: loop settings (:class:`EngineConfig`).
        run_dir: where checkpoints, ``fingerprint.json`` and TensorBoard events go (None: nothing
            is written and nothing can be resumed).
        progress: handlers receiving :class:`ProgressEvent` on rank 0 (default: a
            :class:`PlainProgressLogger` every ``config.log_every_seconds``).
    """

    def __init__(
        self,
        task: Task,
        config: EngineConfig,
        run_dir: str | Path | None = None,
        progress: ProgressHandler | list[ProgressHandler] | None = None,
    ) -> None:
        self.task = task
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if progress is None:
            progress = [PlainProgressLogger(config.log_every_seconds)]
        self.progress = progress if isinstance(progress, list) else [progress]
        self.state = _State()
        self.best_state: dict[str, torch.Tensor] | None = None

    # -- set-up -------------------------------------------------------------------------------
    def _fingerprint(self, world_size: int) -> Fingerprint:
        engine = {k: v for k, v in self.config.to_dict().items() if k not in RESUMABLE_CHANGES}
        return Fingerprint(
            {**self.task.fingerprint_config(), "engine": engine, "world_size": world_size},
            self.task.fingerprint_inputs(),
        )

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        p = self.config.precision
        if p == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        if p == "fp16":
            return torch.autocast(device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def _finished_detail(self) -> str | None:
        r, c = self.state.result, self.config
        if r.stopped_early:
            return (
                f"stopped early at epoch {r.epochs_run}, best {c.early_stopping_metric} {r.best_metric:.4f}"
            )
        if c.max_steps is not None and r.global_step >= c.max_steps:
            return f"{r.global_step} of {c.max_steps} optimiser steps done"
        if r.epochs_run >= c.max_epochs:
            return f"{r.epochs_run} of {c.max_epochs} epochs done"
        return None

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        """Train; with ``resume``, continue the run in ``run_dir`` from its checkpoint.

        Raises:
            TrainingDivergedError: the loss became NaN or infinite (message: epoch, step, last
                good checkpoint).
            ResumeMismatchError: resuming with another config or other inputs.
            RunFinishedError: resuming a run that already finished.
        """
        c = self.config
        _, world, local_rank = env_world()
        device = resolve_device(c.device, local_rank if world > 1 else None)
        if c.precision == "fp16" and device.type != "cuda":
            raise KemmError("precision fp16 needs CUDA (its gradient scaler); use bf16 or fp32 on CPU")
        dist_ctx = init_distributed(device)
        try:
            return self._fit(resume, device, dist_ctx)
        finally:
            for h in self.progress:
                close = getattr(h, "close", None)
                if close is not None:
                    close()

    def _fit(self, resume: bool, device: torch.device, dist_ctx: DistContext) -> FitResult:
        c, task = self.config, self.task
        main = dist_ctx.is_main
        ctx = RunContext(
            device=device,
            generator=torch.Generator().manual_seed(c.seed + dist_ctx.rank),
            rank=dist_ctx.rank,
            world_size=dist_ctx.world_size,
            seed=c.seed,
        )
        task.model.to(device)
        task.setup(ctx)
        optimizer = task.configure_optimizer()
        scaler = torch.amp.GradScaler("cuda") if c.precision == "fp16" else None
        fingerprint = self._fingerprint(dist_ctx.world_size)
        if resume:
            self._resume(fingerprint, optimizer, scaler, ctx, dist_ctx)
        elif self.run_dir is not None:
            if ckpt.checkpoint_dir(self.run_dir) is not None:
                raise KemmError(
                    f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out"
                )
            if main:
                write_fingerprint(self.run_dir / FINGERPRINT_NAME, fingerprint)
        step_module = _StepModule(task)
        ddp: nn.Module | None = None
        if dist_ctx.enabled:
            import inspect

            from torch.nn.parallel import DistributedDataParallel

            # torch >= 2.13 names it forward_sync_buffers (broadcast_buffers is deprecated)
            buffers = (
                "forward_sync_buffers"
                if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                else "broadcast_buffers"
            )
            ddp = DistributedDataParallel(
                step_module,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=task.find_unused_parameters,
                **cast(dict[str, Any], {buffers: task.broadcast_buffers}),
            )
        forward = ddp if ddp is not None else step_module
        params = [p for p in task.model.parameters() if p.requires_grad]
        writer = None
        if main and self.run_dir is not None and c.tensorboard:
            from tensorboardX import SummaryWriter

            writer = SummaryWriter(
                str(self.run_dir / "tb"), purge_step=self.state.result.global_step if resume else None
            )
        r = self.state.result
        t_start = time.perf_counter()
        self._emit(main, ProgressEvent("start", r.epochs_run + 1, c.max_epochs, global_step=r.global_step))
        accum = c.grad_accumulation
        try:
            stop = False
            for epoch in range(r.epochs_run + 1, c.max_epochs + 1):
                task.model.train()
                batches = task.train_batches(epoch, ctx)
                steps = task.num_batches(epoch, ctx)
                if steps is None and hasattr(batches, "__len__"):
                    steps = len(batches)  # type: ignore[arg-type]
                every = max(1, (steps or 100) // 100)
                skip = self.state.batch_in_epoch
                # sums this epoch: loss, batches, samples (restored when resuming mid-epoch)
                sums = list(self.state.partial) if skip else [0.0, 0.0, 0.0]
                log_sums: dict[str, float] = dict(self.state.partial_logs) if skip else {}
                if skip and r.history and r.history[-1].get("partial"):
                    r.history.pop()  # the record of the epoch's first part (a max_steps stop)
                t0 = time.perf_counter()
                done_now = 0
                micro = 0
                stopped_mid = False  # max_steps reached before the epoch's last batch
                for i, (batch, last) in enumerate(_with_last(batches), start=1):
                    if i <= skip:
                        continue
                    sync = last or micro + 1 == accum
                    no_sync = ddp.no_sync() if ddp is not None and not sync else contextlib.nullcontext()  # type: ignore[operator]
                    with no_sync:
                        with self._autocast(device):
                            loss = forward(batch)
                        out = step_module.last
                        assert out is not None
                        value = self._loss_value(loss, dist_ctx)
                        if not math.isfinite(value):
                            raise TrainingDivergedError(self._diverged(value, epoch, i))
                        scaled = loss.float() / accum if accum > 1 else loss
                        (scaler.scale(scaled) if scaler is not None else scaled).backward()
                    micro += 1
                    if sync:
                        self._optimizer_step(optimizer, scaler, params)
                        micro = 0
                        r.global_step += 1
                        task.post_step()
                    sums[0] += value
                    sums[1] += 1
                    sums[2] += out.num_samples
                    for k, v in out.logs.items():
                        log_sums[k] = log_sums.get(k, 0.0) + float(v)
                    done_now += out.num_samples
                    self.state.batch_in_epoch = i
                    if main and (i % every == 0 or last):
                        dt = max(time.perf_counter() - t0, 1e-9)
                        event = ProgressEvent(
                            "step",
                            epoch,
                            c.max_epochs,
                            i,
                            steps,
                            r.global_step,
                            sums[0] / sums[1],
                            done_now * dist_ctx.world_size / dt,
                            dict(r.metrics),
                            {k: v / sums[1] for k, v in log_sums.items()},
                            time.perf_counter() - t_start,
                        )
                        self._emit(main, event)
                    if not sync:
                        continue
                    if c.validate_every_steps and r.global_step % c.validate_every_steps == 0:
                        stop = self._validate(epoch, ctx, dist_ctx, writer, t_start)
                    if c.max_steps is not None and r.global_step >= c.max_steps:
                        stop, stopped_mid = True, not last
                    if stop:
                        break
                    if (
                        c.checkpoint_every_steps
                        and r.global_step % c.checkpoint_every_steps == 0
                        and not last
                    ):
                        self.state.partial, self.state.partial_logs = list(sums), dict(log_sums)
                        self._save(optimizer, scaler, ctx, dist_ctx, fingerprint)
                seconds = time.perf_counter() - t0
                total_loss, n_batches, samples, *log_tot = all_reduce_sum(
                    [sums[0], sums[1], done_now, *(log_sums[k] for k in sorted(log_sums))], dist_ctx
                )
                rec: dict[str, Any] = {
                    "epoch": epoch,
                    "global_step": r.global_step,
                    "loss": total_loss / max(n_batches, 1),
                    "seconds": seconds,
                    "samples_per_second": samples / max(seconds, 1e-9),
                }
                rec.update({k: v / max(n_batches, 1) for k, v in zip(sorted(log_sums), log_tot)})
                r.history.append(rec)
                if stopped_mid:  # a resume with more steps continues this epoch where it stopped
                    rec["partial"] = True
                    self.state.partial, self.state.partial_logs = list(sums), dict(log_sums)
                else:
                    r.epochs_run = epoch
                    self.state.batch_in_epoch, self.state.partial, self.state.partial_logs = 0, [], {}
                if writer is not None:
                    for k in ("loss", "samples_per_second", *sorted(log_sums)):
                        writer.add_scalar(k if "/" in k else f"train/{k}", rec[k], r.global_step)
                self._emit(
                    main,
                    ProgressEvent(
                        "epoch",
                        epoch,
                        c.max_epochs,
                        steps or int(n_batches),
                        steps,
                        r.global_step,
                        rec["loss"],
                        rec["samples_per_second"],
                        dict(r.metrics),
                        {k: rec[k] for k in log_sums},
                        time.perf_counter() - t_start,
                    ),
                )
                if not stop and c.validate_every and epoch % c.validate_every == 0:
                    stop = self._validate(epoch, ctx, dist_ctx, writer, t_start)
                    rec.update(r.metrics)
                end = stop or epoch == c.max_epochs
                if self.run_dir is not None and (
                    end or (c.checkpoint_every and epoch % c.checkpoint_every == 0)
                ):
                    self._save(optimizer, scaler, ctx, dist_ctx, fingerprint)
                if stop:
                    break
        finally:
            if writer is not None:
                writer.close()
        if r.stopped_early and main:
            logger.info(
                "early stopping at epoch %d (best %s %.4f at epoch %s)",
                r.epochs_run,
                c.early_stopping_metric,
                r.best_metric,
                r.best_epoch,
            )
        if c.restore_best and self.best_state is not None:
            task.load_model_state({k: v.to(device) for k, v in self.best_state.items()})
        task.model.eval()
        self._emit(
            main,
            ProgressEvent(
                "end",
                r.epochs_run,
                c.max_epochs,
                global_step=r.global_step,
                loss=r.history[-1]["loss"] if r.history else float("nan"),
                metrics=dict(r.metrics),
                elapsed=time.perf_counter() - t_start,
            ),
        )
        barrier(dist_ctx)
        return r

    # -- pieces of a step ---------------------------------------------------------------------
    @staticmethod
    def _loss_value(loss: torch.Tensor, dist_ctx: DistContext) -> float:
        """The loss as a float; under DDP the sum over ranks (NaN anywhere stops every rank)."""
        if not dist_ctx.enabled:
            return float(loss.detach())
        return all_reduce_sum([float(loss.detach())], dist_ctx)[0] / dist_ctx.world_size

    def _optimizer_step(self, optimizer: Any, scaler: Any, params: list[nn.Parameter]) -> None:
        opts = _optimizers(optimizer)
        if scaler is not None:
            for o in opts:
                scaler.unscale_(o)
        if self.config.clip_grad_norm is not None:
            clip_gradients(params, self.config.clip_grad_norm)
        if scaler is not None:
            for o in opts:
                scaler.step(o)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _diverged(self, value: float, epoch: int, step: int) -> str:
        r = self.state.result
        where = "no checkpoint was written yet"
        if self.run_dir is not None and ckpt.checkpoint_dir(self.run_dir) is not None:
            import json

            saved = json.loads((self.run_dir / ckpt.LINK_NAME / ckpt.STATE_NAME).read_text())["state"]
            where = (
                f"last good checkpoint: {self.run_dir / ckpt.LINK_NAME} "
                f"(epoch {saved['result']['epochs_run']}, optimiser step {saved['result']['global_step']})"
            )
        return (
            f"loss is {value} at epoch {epoch}, step {step} (optimiser step {r.global_step + 1}); stopped. "
            f"{where}. Try a lower lr, gradient clipping or a regularizer."
        )

    # -- validation and early stopping --------------------------------------------------------
    def _validate(
        self, epoch: int, ctx: RunContext, dist_ctx: DistContext, writer: Any, t_start: float
    ) -> bool:
        """Validate, track the best metric; True when early stopping ends the run."""
        c, r = self.config, self.state.result
        self.task.model.eval()
        with torch.no_grad():
            metrics = self.task.validate(ctx)
        self.task.model.train()
        metrics = all_reduce_mean({k: float(v) for k, v in metrics.items()}, dist_ctx)
        if not metrics:
            return False
        r.metrics = metrics
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(k, v, r.global_step)
        stop = False
        name = c.early_stopping_metric
        if name is not None:
            if name not in metrics:
                raise KemmError(
                    f"early_stopping_metric {name!r} is not a validation metric; the task reports: "
                    + ", ".join(sorted(metrics))
                )
            v = metrics[name]
            better = r.best_metric is None or (
                v > r.best_metric if c.early_stopping_mode == "max" else v < r.best_metric
            )
            if better:
                r.best_metric, r.best_epoch, r.best_step = v, epoch, r.global_step
                self.state.bad_evals = 0
                if c.restore_best:
                    self.best_state = {
                        k: t.detach().cpu().clone() for k, t in self.task.model.state_dict().items()
                    }
            else:
                self.state.bad_evals += 1
            if c.early_stopping_patience and self.state.bad_evals >= c.early_stopping_patience:
                r.stopped_early = stop = True
        self._emit(
            dist_ctx.is_main,
            ProgressEvent(
                "valid",
                epoch,
                c.max_epochs,
                self.state.batch_in_epoch,
                None,
                r.global_step,
                r.history[-1]["loss"] if r.history else float("nan"),
                r.history[-1]["samples_per_second"] if r.history else 0.0,
                dict(metrics),
                elapsed=time.perf_counter() - t_start,
            ),
        )
        return stop

    def _emit(self, main: bool, event: ProgressEvent) -> None:
        if main:
            for h in self.progress:
                h(event)

    # -- checkpoints --------------------------------------------------------------------------
    def _save(
        self, optimizer: Any, scaler: Any, ctx: RunContext, dist_ctx: DistContext, fingerprint: Fingerprint
    ) -> None:
        assert self.run_dir is not None
        rngs = gather_json(ckpt.rng_state(ctx.generator), dist_ctx)  # a collective: every rank
        if dist_ctx.is_main:
            state = {
                "format": 1,
                "global_step": self.state.result.global_step,
                "state": self.state.to_dict(),
                "rng": rngs,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "task": self.task.state_dict(),
                "config": self.config.to_dict(),
                "fingerprint": fingerprint.to_dict(),
            }
            ckpt.save_checkpoint(
                self.run_dir,
                state,
                self.task.model.state_dict(),
                optimizer.state_dict(),
                self.best_state,
                self.task.checkpoint_files,
            )
            logger.debug(
                "checkpoint at epoch %d, optimiser step %d",
                self.state.result.epochs_run,
                self.state.result.global_step,
            )
        barrier(dist_ctx)

    def _resume(
        self, fingerprint: Fingerprint, optimizer: Any, scaler: Any, ctx: RunContext, dist_ctx: DistContext
    ) -> None:
        what = f"the run {self.run_dir}"
        d = ckpt.checkpoint_dir(self.run_dir) if self.run_dir is not None else None
        if d is None:
            if self.run_dir is not None and (self.run_dir / ckpt.LINK_NAME / "state.pt").exists():
                raise KemmError(
                    f"cannot resume {what}: its checkpoint was written by an older kemm (state.pt)"
                )
            raise KemmError(f"nothing to resume: no checkpoint in {self.run_dir}")
        saved_fp = read_fingerprint(self.run_dir / FINGERPRINT_NAME)  # type: ignore[operator]
        state, model_state, opt_state, best = ckpt.load_checkpoint(d, ctx.device)
        if saved_fp is None:
            saved_fp = Fingerprint.from_dict(state["fingerprint"])
        check_resume(saved_fp, fingerprint, what)
        self.state = _State.from_dict(state["state"])
        detail = self._finished_detail()
        if detail is not None:
            raise finished(
                what,
                detail,
                "Raise the number of epochs (or steps) to train it further, or choose another --out",
            )
        self.task.load_model_state(model_state)
        optimizer.load_state_dict(opt_state)
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[ctx.rank], ctx.generator)
        self.task.load_state_dict(state.get("task") or {})
        self.best_state = best
        if dist_ctx.is_main:
            r = self.state.result
            logger.info(
                "resuming %s after epoch %d (optimiser step %d)%s",
                self.run_dir,
                r.epochs_run,
                r.global_step,
                f", {self.state.batch_in_epoch} batches into epoch {r.epochs_run + 1}"
                if self.state.batch_in_epoch
                else "",
            )
