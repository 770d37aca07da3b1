"""What every evaluation task shares: the registry, predictions files, the result of a run.

A task (one file each under :mod:`kemm.evaluation.tasks`) reads its dataset through
:func:`kemm.data.read_dataset`, scores it with :mod:`kemm.evaluation.metrics` and returns a
:class:`TaskResult`; :func:`write_result` writes, side by side in one directory::

    predictions.jsonl   one line per evaluated example: id, prediction, gold, correct, entities
    metrics.json        the TaskResult: metrics, counts, per-relation and per-group figures

A predictions file is read back with :func:`read_predictions`, which checks its ids against the
dataset's: missing or extra ids are one error naming both counts and a few of the ids.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from kemm.errors import InputError, KemmError
from kemm.registry import Registry
from kemm.utils.io import atomic_write

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"

#: The two knowledge settings of every task: the evaluated fact is in the KG, or removed from it
#: before KG embeddings are trained and subgraphs retrieved (:mod:`kemm.evaluation.facts`).
SETTINGS = ("fact-in-kg", "fact-removed")


class EvalTask:
    """An evaluation task. Subclasses register with ``@EVAL_TASKS.register(name)``.

    Class attributes:
        formats: the :data:`kemm.data.DATASETS` formats the task reads (first: the default).
        metric: the headline metric's key in :attr:`TaskResult.metrics`.
        needs_model: whether the task scores a vision-language model (False: a KGE run).
    """

    formats: ClassVar[tuple[str, ...]] = ()
    metric: ClassVar[str] = "accuracy"
    needs_model: ClassVar[bool] = True


EVAL_TASKS: Registry[type[EvalTask]] = Registry("evaluation task", base=EvalTask)


# --------------------------------------------------------------------------------------------------
# predictions files
# --------------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """One evaluated example.

    Attributes:
        id: the dataset's example id, as a string (VQA's integer question ids are written as text).
        prediction: what the model answered (an answer string, an option index, an entity key, ...).
        gold: the reference (an option index, the human answers, the gold entity, ...).
        correct: for exact tasks whether ``prediction`` is right; for VQA the soft accuracy in [0, 1].
        entities: the KG entities the model was given or used for this example (keys).
        extra: task-specific fields (the relation, ``"heldout"``, a rank, ...).
    """

    id: str
    prediction: Any
    gold: Any
    correct: bool | float
    entities: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _id_sample(ids: Iterable[str], n: int = 5) -> str:
    shown = sorted(ids)[:n]
    return ", ".join(repr(i) for i in shown) + (", ..." if len(shown) == n else "")


def check_ids(found: Sequence[str], expected: Iterable[str], source: str | Path | None = None) -> None:
    """Raise one :class:`InputError` when ``found`` ids differ from ``expected`` (or repeat).

    The message names how many ids are missing, extra and repeated, with a few of each.
    """
    found_set, expected_set = set(found), set(expected)
    problems = []
    if len(found_set) != len(found):
        seen: set[str] = set()
        repeated = {i for i in found if i in seen or seen.add(i)}  # type: ignore[func-returns-value]
        problems.append(f"{len(repeated)} repeated ({_id_sample(repeated)})")
    missing, extra = expected_set - found_set, found_set - expected_set
    if missing:
        problems.append(f"{len(missing)} missing ({_id_sample(missing)})")
    if extra:
        problems.append(f"{len(extra)} not in the dataset ({_id_sample(extra)})")
    if problems:
        raise InputError(
            f"predictions do not match the dataset's {len(expected_set)} ids: " + "; ".join(problems), source
        )


def write_predictions(path: str | Path, predictions: Sequence[Prediction]) -> Path:
    """Write ``predictions`` as JSON Lines (one object a line, keys in a fixed order), atomically.

    Raises:
        KemmError: there are no predictions, or an id repeats.
    """
    if not predictions:
        raise KemmError("no predictions to write: the dataset evaluated was empty")
    ids = [p.id for p in predictions]
    if len(set(ids)) != len(ids):
        check_ids(ids, set(ids))  # names the repeated ids
    path = Path(path)
    with atomic_write(path) as f:
        for p in predictions:
            rec = {
                "id": p.id,
                "prediction": p.prediction,
                "gold": p.gold,
                "correct": p.correct,
                "entities": p.entities,
            }
            rec.update({k: v for k, v in p.extra.items() if k not in rec})
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


_REQUIRED = ("id", "prediction", "gold", "correct", "entities")


def read_predictions(path: str | Path, expected_ids: Iterable[str] | None = None) -> list[Prediction]:
    """Read a predictions file; with ``expected_ids``, check it holds exactly those ids (see :func:`check_ids`).

    Raises:
        InputError: a line is not a JSON object with the five fields (file and line named), the
            file is empty, or the ids differ from ``expected_ids``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such predictions file", path)
    out: list[Prediction] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"not JSON: {e.msg}", path, lineno) from None
            if not isinstance(rec, dict) or any(k not in rec for k in _REQUIRED):
                missing = [k for k in _REQUIRED if not isinstance(rec, dict) or k not in rec]
                raise InputError(
                    f"a prediction needs {', '.join(_REQUIRED)}; missing {missing}", path, lineno
                )
            extra = {k: v for k, v in rec.items() if k not in _REQUIRED}
            out.append(
                Prediction(
                    str(rec["id"]), rec["prediction"], rec["gold"], rec["correct"], rec["entities"], extra
                )
            )
    if not out:
        raise InputError("the predictions file is empty", path)
    if expected_ids is not None:
        check_ids([p.id for p in out], expected_ids, path)
    return out


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------


@dataclass
class TaskResult:
    """The outcome of evaluating one task once.

    Attributes:
        task: the registered task name.
        metrics: metric name -> value (fractions in [0, 1]; MRR in (0, 1]).
        counts: what was evaluated and what was not scored as usual, each stated: ``examples``,
            ``oov_gold`` (gold answers outside the answer vocabulary: scored, and counted here),
            ``multi_token_objects`` (LAMA word-vocabulary probes whose object is not one token), ...
        per_relation: relation -> metric name -> value.
        groups: group name (``"seen"``, ``"heldout"``) -> metric name -> value.
        setting: one of :data:`SETTINGS`.
        predictions_path: the predictions file, once written.
        info: what the run used (dataset path, split, checkpoint, KG), for the report.
    """

    task: str
    metrics: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    per_relation: dict[str, dict[str, float]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    setting: str = "fact-in-kg"
    predictions_path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise KemmError(f"setting must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        bad = [k for k, v in self.metrics.items() if not isinstance(v, (int, float)) or math.isnan(v)]
        if bad:
            raise KemmError(f"{self.task}: metrics {bad} are not numbers (NaN is never a result)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["predictions_path"] = str(self.predictions_path) if self.predictions_path is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskResult:
        d = dict(d)
        path = d.pop("predictions_path", None)
        return cls(**d, predictions_path=Path(path) if path is not None else None)

    @classmethod
    def load(cls, path: str | Path) -> TaskResult:
        """Read ``metrics.json`` (or the directory holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / METRICS_FILE
        if not path.is_file():
            raise KemmError(f"{path}: no such results file")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def write_result(out_dir: str | Path, result: TaskResult, predictions: Sequence[Prediction]) -> TaskResult:
    """Write ``predictions.jsonl`` and ``metrics.json`` into ``out_dir``; returns ``result`` with its path set."""
    out_dir = Path(out_dir)
    result.predictions_path = write_predictions(out_dir / PREDICTIONS_FILE, predictions)
    with atomic_write(out_dir / METRICS_FILE) as f:
        json.dump(result.to_dict(), f, indent=2, ensure_ascii=False)
        f.write("\n")
    logger.info("%s: %s; wrote %s", result.task, _summary(result.metrics), out_dir)
    return result


def _summary(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def breakdown(
    predictions: Sequence[Prediction],
    key_of: Mapping[str, str | None],
    metrics: Callable[[Sequence[Prediction]], dict[str, float]],
) -> dict[str, dict[str, float]]:
    """``metrics`` of the predictions of each group: ``key_of`` maps an example id to its group
    (a relation, ``"seen"``/``"heldout"``; None: in no group). Each group also gets its ``count``."""
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        key = key_of.get(p.id)
        if key is not None:
            groups.setdefault(key, []).append(p)
    return {k: {**metrics(v), "count": len(v)} for k, v in sorted(groups.items())}
