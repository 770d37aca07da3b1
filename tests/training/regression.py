"""A tiny regression task for the engine's tests (and the torchrun script): y = x @ w + noise."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from kemm.training import RunContext, StepOutput, Task, build_optimizer


class Regression(Task):
    """A linear model (with dropout, so the step draws from the engine's generator) on 64 points."""

    def __init__(
        self,
        n: int = 64,
        dim: int = 4,
        batch_size: int = 8,
        lr: float = 0.05,
        optimizer: str = "adam",
        noise: bool = True,
    ):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, dim, generator=g)
        self.y = self.x @ torch.arange(1.0, dim + 1) + 0.1 * torch.randn(n, generator=g)
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        self.batch_size, self.lr, self.optimizer, self.noise = batch_size, lr, optimizer, noise
        self.dtypes: list[torch.dtype] = []  # dtype of each step's prediction (autocast shows here)
        self.step_seconds = 0.0  # sleep in each step (progress tests)
        self.valid_calls = 0
        self.fail_at: int | None = None  # make the loss NaN at this training step (1-based, over the run)
        self.calls = 0

    def setup(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def train_batches(self, epoch: int, ctx: RunContext):
        idx = ctx.shard(len(self.x), epoch)
        return [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]

    def training_step(self, batch) -> StepOutput:
        self.calls += 1
        x = self.x[batch].to(self.ctx.device)
        if self.noise:  # (B, D): the step's randomness, from the engine's generator
            x = x * (0.9 + 0.2 * torch.rand(x.shape, generator=self.ctx.generator).to(x.device))
        pred = self.model(x).squeeze(-1)  # (B,)
        self.dtypes.append(pred.dtype)
        if self.step_seconds:
            time.sleep(self.step_seconds)
        loss = F.mse_loss(pred.float(), self.y[batch].to(x.device))
        if self.fail_at is not None and self.calls >= self.fail_at:
            loss = loss * float("nan")
        return StepOutput(
            loss, {"abs_error": float((pred.detach() - self.y[batch]).abs().mean())}, len(batch)
        )

    def configure_optimizer(self):
        return build_optimizer(self.optimizer, self.model, lr=self.lr)

    def validate(self, ctx: RunContext) -> dict[str, float]:
        self.valid_calls += 1
        return {"valid/mse": float(F.mse_loss(self.model(self.x).squeeze(-1), self.y))}

    def fingerprint_config(self):
        return {"batch_size": self.batch_size, "lr": self.lr, "optimizer": self.optimizer}
