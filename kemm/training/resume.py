"""The one resume rule of kemm: a run continues only what it started, with the same config and inputs.

Every resumable thing (training runs, benchmark generation, batch grounding) stores a
:class:`Fingerprint` of its config and of its inputs' checksums when it starts. Resuming compares
the stored fingerprint with the current one: any difference is a :class:`ResumeMismatchError`
naming each config key and each input that changed; resuming a run that already finished is a
:class:`RunFinishedError` that says so.

>>> a = Fingerprint({"lr": 0.01, "dim": 8}, {"train": "ab12"})
>>> b = Fingerprint({"lr": 0.1, "dim": 8}, {"train": "cd34"})
>>> a.differences(b)
['config lr: 0.01 -> 0.1', 'input train: ab12 -> cd34']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kemm.errors import KemmError
from kemm.utils.io import atomic_write, sha256_file

FINGERPRINT_NAME = "fingerprint.json"


class ResumeMismatchError(KemmError):
    """The run would be resumed with another config or other inputs than it started with."""


class RunFinishedError(KemmError):
    """``--resume`` of a run that already finished."""


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Fingerprint:
    """What a run's results depend on.

    Attributes:
        config: JSON-ready settings (flattened to dotted keys when compared).
        inputs: input name -> checksum (see :func:`checksum`).
    """

    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "inputs": self.inputs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(dict(data.get("config", {})), dict(data.get("inputs", {})))

    @property
    def digest(self) -> str:
        """sha256 of the whole fingerprint."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()

    def differences(self, other: Fingerprint) -> list[str]:
        """``"config KEY: old -> new"`` and ``"input NAME: old -> new"`` lines, from ``self`` to ``other``."""
        out = []
        a, b = _flatten(self.config), _flatten(other.config)
        for k in sorted(set(a) | set(b)):
            if a.get(k, "<unset>") != b.get(k, "<unset>"):
                out.append(f"config {k}: {_short(a.get(k, '<unset>'))} -> {_short(b.get(k, '<unset>'))}")
        for k in sorted(set(self.inputs) | set(other.inputs)):
            old, new = self.inputs.get(k, "<none>"), other.inputs.get(k, "<none>")
            if old != new:
                out.append(f"input {k}: {old[:12]} -> {new[:12]}")
        return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.loads(json.dumps(v, default=str))  # tuples == lists
    return out


def checksum(value: str | Path | bytes | np.ndarray) -> str:
    """sha256 of an input: a file's bytes, a directory's files (relative paths and contents, sorted),
    raw bytes, or an array's dtype, shape and bytes."""
    h = hashlib.sha256()
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
        return h.hexdigest()
    if isinstance(value, bytes):
        h.update(value)
        return h.hexdigest()
    path = Path(value)
    if path.is_file():
        return sha256_file(path)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_file(f).encode())
        return h.hexdigest()
    raise KemmError(f"{path}: no such input file or directory")


def write_fingerprint(path: str | Path, fingerprint: Fingerprint) -> None:
    """Store ``fingerprint`` as JSON (atomically)."""
    with atomic_write(path) as f:
        json.dump(fingerprint.to_dict(), f, indent=1, sort_keys=True, default=str)


def read_fingerprint(path: str | Path) -> Fingerprint | None:
    path = Path(path)
    if not path.is_file():
        return None
    return Fingerprint.from_dict(json.loads(path.read_text(encoding="utf-8")))


def check_resume(saved: Fingerprint | None, current: Fingerprint, what: str) -> None:
    """Raise :class:`ResumeMismatchError` unless ``current`` equals ``saved``.

    Args:
        saved: the fingerprint stored when the run started (None: the run stored none).
        what: the run, for the message (``"the run runs/transe"``).
    """
    if saved is None:
        raise ResumeMismatchError(f"cannot resume {what}: it has no fingerprint (made by an older kemm?)")
    diff = saved.differences(current)
    if diff:
        raise ResumeMismatchError(
            f"cannot resume {what}: it was started with other settings or inputs ({'; '.join(diff)}); "
            "resume with the original ones, or start a new run"
        )


def finished(what: str, detail: str, hint: str = "") -> RunFinishedError:
    """The error of ``--resume`` on a finished run: ``"RUN is finished (detail); nothing to resume"``."""
    return RunFinishedError(
        f"{what} is finished ({detail}); nothing to resume" + (f". {hint}" if hint else "")
    )
