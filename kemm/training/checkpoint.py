"""Checkpoints without pickles: tensors as safetensors, everything else as JSON, swapped in atomically.

``RUN/checkpoint`` is a symbolic link to a complete directory ``RUN/.checkpoint-<step>-<id>``::

    model.safetensors       the model's state dict
    optimizer.safetensors   every tensor of the optimiser state, under its path ("0.state.3.exp_avg")
    optimizer.json          the optimiser state with each tensor replaced by {"__tensor__": path}
    best.safetensors        the weights of the best validation (when there is one)
    state.json              step, epoch, history, RNG states, config, fingerprint, the task's state

A new checkpoint is written into a fresh directory, each file fsynced, then the link is replaced
by one ``rename`` (atomic on POSIX) and only then is the old directory removed: a kill at any
moment leaves ``RUN/checkpoint`` pointing at either the previous or the new checkpoint, complete.
Nothing is ever unpickled: loading reads safetensors and JSON only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from kemm.errors import KemmError
from kemm.utils.io import atomic_write, fsync_dir

logger = logging.getLogger(__name__)

LINK_NAME = "checkpoint"
STATE_NAME = "state.json"
MODEL_NAME = "model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_SKELETON = "optimizer.json"
BEST_NAME = "best.safetensors"


# -- tensors <-> safetensors + JSON ---------------------------------------------------------------
def _cpu_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies; tensors sharing memory (tied weights) are cloned apart."""
    out, seen = {}, set()
    for k, v in state.items():
        v = v.detach()
        if v.is_sparse:
            v = v.to_dense()
        v = v.contiguous().cpu()
        key = (v.untyped_storage().data_ptr(), v.storage_offset()) if v.numel() else None
        if key is not None and key in seen:
            v = v.clone()
        elif key is not None:
            seen.add(key)
        out[k] = v
    return out


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` as one safetensors file (atomically)."""
    with atomic_write(path, mode="wb") as f:
        f.write(save(_cpu_tensors(tensors)))


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A nested state (an optimiser's ``state_dict``) as JSON-ready data; tensors go to ``tensors``.

    Dicts with non-string keys (optimiser state is keyed by parameter index) become
    ``{"__items__": [[key, value], ...]}``; tuples ``{"__tuple__": [...]}``; tensors
    ``{"__tensor__": path}``.
    """
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj
        return {"__tensor__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: flatten_state(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
        return {
            "__items__": [
                [k, flatten_state(v, tensors, f"{path}.{k}" if path else str(k))] for k, v in obj.items()
            ]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise KemmError(f"cannot checkpoint a {type(obj).__name__} at {path!r} (tensors and JSON values only)")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`flatten_state`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__items__" in obj:
            return {k: unflatten_state(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


# -- random states as JSON ------------------------------------------------------------------------
def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """This process's random state (torch CPU and CUDA, the engine's generator, numpy, random) as JSON."""
    np_state: Any = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": _b64(torch.get_rng_state()),
        "generator": _b64(generator.get_state()),
        "numpy": [np_state[0], np_state[1].tolist(), *(x for x in np_state[2:])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(_unb64(state["torch"]))
    generator.set_state(_unb64(state["generator"]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        for i, s in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(_unb64(s), i)


# -- the checkpoint directory ---------------------------------------------------------------------
def checkpoint_dir(run_dir: str | Path) -> Path | None:
    """The complete checkpoint ``RUN/checkpoint`` points at, or None when there is none."""
    link = Path(run_dir) / LINK_NAME
    if not link.exists() or not (link / STATE_NAME).is_file():
        return None
    return link.resolve()


def save_checkpoint(
    run_dir: str | Path,
    state: dict[str, Any],
    model_state: dict[str, torch.Tensor],
    optimizer_state: Any,
    best_state: dict[str, torch.Tensor] | None = None,
    extra_files: Any = None,
) -> Path:
    """Write a checkpoint and swap it in atomically; returns its directory.

    Args:
        state: JSON-ready run state (written last, as ``state.json``).
        model_state: the model's state dict.
        optimizer_state: the optimiser's ``state_dict()`` (any nesting of dicts, lists, tensors).
        best_state: weights of the best validation, if any.
        extra_files: ``callable(directory)`` that adds files of its own (e.g. a model description).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    step = int(state.get("global_step", 0))
    final = run_dir / f".checkpoint-{step:09d}-{uuid.uuid4().hex[:8]}"
    tmp = final.with_name(final.name + ".tmp")
    tmp.mkdir()  # 0777 & ~umask like any new directory (never mkdtemp's 0700)
    try:
        write_tensors(tmp / MODEL_NAME, model_state)
        opt_tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten_state(optimizer_state, opt_tensors)
        write_tensors(tmp / OPTIMIZER_TENSORS, opt_tensors)
        with atomic_write(tmp / OPTIMIZER_SKELETON) as f:
            json.dump(skeleton, f)
        if best_state is not None:
            write_tensors(tmp / BEST_NAME, best_state)
        if extra_files is not None:
            extra_files(tmp)
        with atomic_write(tmp / STATE_NAME) as f:
            json.dump(state, f, indent=1)
        fsync_dir(tmp)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = run_dir / LINK_NAME
    if link.exists() and not link.is_symlink():  # a checkpoint directory of an older kemm
        shutil.rmtree(link)
    new_link = run_dir / f".{LINK_NAME}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(final.name, new_link)
    os.replace(new_link, link)  # the one atomic switch
    fsync_dir(run_dir)
    for old in run_dir.glob(".checkpoint-*"):  # previous checkpoints and leftovers of killed writes
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    for old in run_dir.glob(f".{LINK_NAME}.link-*"):
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return final


def load_checkpoint(
    directory: str | Path, device: torch.device | str = "cpu"
) -> tuple[dict[str, Any], dict[str, torch.Tensor], Any, dict[str, torch.Tensor] | None]:
    """``(state, model_state, optimizer_state, best_state)`` of a checkpoint directory."""
    d = Path(directory)
    if not (d / STATE_NAME).is_file():
        raise KemmError(f"{d}: not a kemm checkpoint ({STATE_NAME} is missing)")
    state = json.loads((d / STATE_NAME).read_text(encoding="utf-8"))
    model_state = load_file(str(d / MODEL_NAME), device=str(device))
    skeleton = json.loads((d / OPTIMIZER_SKELETON).read_text(encoding="utf-8"))
    opt_tensors = load_file(str(d / OPTIMIZER_TENSORS), device="cpu")
    best = load_file(str(d / BEST_NAME), device="cpu") if (d / BEST_NAME).is_file() else None
    return state, model_state, unflatten_state(skeleton, opt_tensors), best
