"""One training engine for every run: KGE training, pre-training and fine-tuning are tasks on it.

>>> from kemm.training import Engine, EngineConfig, StepOutput, Task   # doctest: +SKIP
>>> Engine(MyTask(...), EngineConfig(max_epochs=3, precision="bf16"), "runs/x").fit()  # doctest: +SKIP
"""

from kemm.training.config import EngineConfig
from kemm.training.device import resolve_device
from kemm.training.engine import Engine, FitResult, TrainingDivergedError
from kemm.training.optim import OPTIMIZERS, MultiOptimizer, build_optimizer
from kemm.training.progress import PlainProgressLogger, ProgressEvent
from kemm.training.resume import Fingerprint, ResumeMismatchError, RunFinishedError, checksum
from kemm.training.task import RunContext, StepOutput, Task

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
