"""The one progress event of every run, and the plain-line logger used when output is not a terminal.

The engine emits :class:`ProgressEvent` objects to handlers (callables). The CLI renders them with
rich when it owns a terminal; otherwise :class:`PlainProgressLogger` logs one line per epoch and,
from a background thread, one line every ``interval`` seconds, also while a single long step runs,
so a log file always shows that the run is alive::

    epoch 3/10 step 120/400 (optimiser step 920) loss 0.4123 1,234 samples/s valid/mrr 0.3120 [next step running 1m01s]
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Literal

logger = logging.getLogger(__name__)

EventKind = Literal["start", "step", "epoch", "valid", "end"]


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run is.

    Attributes:
        kind: ``"start"``, ``"step"`` (after a micro-batch), ``"epoch"`` (an epoch ended),
            ``"valid"`` (after a validation) or ``"end"``.
        epoch: 1-based epoch; max_epochs: epochs planned.
        step: 1-based micro-batch within the epoch; steps: micro-batches per epoch (None: unknown).
        global_step: optimiser steps done since the run began (resumed runs included).
        loss: mean training loss so far in this epoch (nan before the first batch).
        samples_per_second: training samples (the task's ``num_samples``) per second this epoch.
        metrics: the last validation's metrics (``{"valid/mrr": 0.31}``; empty before one).
        logs: the task's mean step logs so far in this epoch.
        elapsed: seconds since :meth:`Engine.fit` began.
    """

    kind: EventKind
    epoch: int
    max_epochs: int
    step: int = 0
    steps: int | None = None
    global_step: int = 0
    loss: float = float("nan")
    samples_per_second: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    logs: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0

    def line(self) -> str:
        """The event as one plain line."""
        metrics = "".join(f" {k} {v:.4f}" for k, v in self.metrics.items())
        if self.kind == "valid":
            return f"epoch {self.epoch}/{self.max_epochs} validation (optimiser step {self.global_step}):{metrics}"
        if self.kind == "end":
            return (
                f"finished: {self.epoch} epochs, {self.global_step} optimiser steps, "
                f"last epoch loss {self.loss:.4f}{metrics}, {self.elapsed:.1f}s"
            )
        steps = f"/{self.steps}" if self.steps else ""
        return (
            f"epoch {self.epoch}/{self.max_epochs} step {self.step}{steps} (optimiser step {self.global_step}) "
            f"loss {self.loss:.4f} {self.samples_per_second:,.0f} samples/s{metrics}"
        )


class PlainProgressLogger:
    """Logs progress lines at a fixed interval (and at each epoch end and validation).

    Args:
        interval: seconds between lines; a background thread repeats the last line with the time
            the current step has been running, so a 6-minute step shows up every ``interval``.
        log: the logger to write to (default: ``kemm.training.progress``).
    """

    def __init__(self, interval: float = 60.0, log: logging.Logger | None = None) -> None:
        self.interval = interval
        self.log = log or logger
        self._last: ProgressEvent | None = None
        self._last_time = 0.0  # monotonic time of the last event
        self._last_line = 0.0  # monotonic time of the last line written
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        with self._lock:
            self._last, self._last_time = event, now
        if event.kind == "start":
            self.log.info("training: %d epochs from optimiser step %d", event.max_epochs, event.global_step)
            self._start()
        elif event.kind == "end":
            self._stop.set()
            self._write(event.line())
        elif now - self._last_line >= self.interval or (
            event.kind == "epoch" and event.epoch == event.max_epochs
        ):
            self._write(event.line() + (" [epoch done]" if event.kind == "epoch" else ""))

    def _write(self, line: str) -> None:
        self._last_line = time.monotonic()
        self.log.info("%s", line)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="kemm-progress", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(min(self.interval, 1.0)):
            now = time.monotonic()
            with self._lock:
                event, since = self._last, now - self._last_time
            if event is None or now - self._last_line < self.interval:
                continue
            running = f" [next step running {_duration(since)}]" if since >= self.interval else ""
            self._write(replace(event, elapsed=event.elapsed + since).line() + running)

    def close(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _duration(seconds: float) -> str:
    """``0.3s``, ``42s``, ``6m05s``, ``2h03m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    return f"{m // 60}h{m % 60:02d}m"
