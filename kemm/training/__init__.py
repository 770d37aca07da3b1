"""One training engine for every run: KGE training, pre-training and fine-tuning are tasks on it.

>>> from kemm.training import Engine, EngineConfig, StepOutput, Task   # doctest: +SKIP
>>> Engine(MyTask(...), EngineConfig(max_epochs=3, precision="bf16"), "runs/x").fit()  # doctest: +SKIP

The names below load on first use (PEP 562), so that a torch-free part such as the resume rule
(:mod:`kemm.training.resume`, which ``kemm kg ingest`` and ``kemm demo`` use) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule that defines it
_EXPORTS = {
    "EngineConfig": "config",
    "resolve_device": "device",
    "Engine": "engine",
    "FitResult": "engine",
    "TrainingDivergedError": "engine",
    "OPTIMIZERS": "optim",
    "MultiOptimizer": "optim",
    "build_optimizer": "optim",
    "PlainProgressLogger": "progress",
    "ProgressEvent": "progress",
    "Fingerprint": "resume",
    "ResumeMismatchError": "resume",
    "RunFinishedError": "resume",
    "checksum": "resume",
    "RunContext": "task",
    "StepOutput": "task",
    "Task": "task",
}

__all__ = [
    "OPTIMIZERS",
    "Engine",
    "EngineConfig",
    "Fingerprint",
    "FitResult",
    "MultiOptimizer",
    "PlainProgressLogger",
    "ProgressEvent",
    "ResumeMismatchError",
    "RunContext",
    "RunFinishedError",
    "StepOutput",
    "Task",
    "TrainingDivergedError",
    "build_optimizer",
    "checksum",
    "resolve_device",
]

if TYPE_CHECKING:
    from kemm.training.config import EngineConfig
    from kemm.training.device import resolve_device
    from kemm.training.engine import Engine, FitResult, TrainingDivergedError
    from kemm.training.optim import OPTIMIZERS, MultiOptimizer, build_optimizer
    from kemm.training.progress import PlainProgressLogger, ProgressEvent
    from kemm.training.resume import Fingerprint, ResumeMismatchError, RunFinishedError, checksum
    from kemm.training.task import RunContext, StepOutput, Task


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
