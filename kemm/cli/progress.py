"""Training progress in the terminal: a rich bar fed by the engine's :class:`ProgressEvent`.

When stderr is not a terminal (a log file, a batch job) the bar gives way to
:class:`~kemm.training.progress.PlainProgressLogger`, a plain line at a fixed interval. Under
torchrun only rank 0 shows anything.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kemm.training.progress import PlainProgressLogger, ProgressEvent

#: loggers that also get the plain progress lines while a bar is on the terminal (``kemm demo``'s log file)
TEE: list[logging.Logger] = []


@contextlib.contextmanager
def training_progress(
    console: Console, interval: float = 60.0, unit: str = "samples"
) -> Iterator[Callable[[ProgressEvent], None]]:
    """A progress handler for :class:`kemm.training.Engine` (a rich bar, or plain lines off a terminal)."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield lambda event: None
        return
    if not console.is_terminal:
        plain = PlainProgressLogger(interval)
        try:
            yield plain
        finally:
            plain.close()
        return
    with Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("{task.fields[where]}"),
        TextColumn(
            "loss {task.fields[loss]:.4f}  {task.fields[rate]:,.0f} " + unit + "/s  {task.fields[metrics]}"
        ),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("train", total=1, epoch=0, where="", loss=math.nan, rate=0.0, metrics="")
        tees = [PlainProgressLogger(interval, log=log) for log in TEE]

        def on_event(e: ProgressEvent) -> None:
            for tee in tees:
                tee(e)
            if e.kind == "start":
                bar.update(task, total=e.max_epochs, completed=e.epoch - 1)
                return
            if e.kind == "end":
                bar.update(task, completed=e.epoch)
                return
            metrics = "  ".join(f"{k} {v:.4f}" for k, v in e.metrics.items())
            done = e.epoch - 1 + (e.step / e.steps if e.kind == "step" and e.steps else 1)
            where = f"{e.step}/{e.steps}" if e.kind == "step" and e.steps else f"{e.epoch}/{e.max_epochs}"
            bar.update(
                task,
                completed=done,
                epoch=e.epoch,
                where=where,
                loss=e.loss,
                rate=e.samples_per_second,
                metrics=metrics,
            )

        try:
            yield on_event
        finally:
            for tee in tees:
                tee.close()
