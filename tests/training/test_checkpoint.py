"""Checkpoints: safetensors + JSON round trips (optimisers, random state) and the atomic swap."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from kemm.training import build_optimizer
from kemm.training.checkpoint import (
    checkpoint_dir,
    flatten_state,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unflatten_state,
)


def equal(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def trained_optimizer():
    model = torch.nn.ModuleDict({"emb": torch.nn.Embedding(5, 3, sparse=True), "lin": torch.nn.Linear(3, 1)})
    opt = build_optimizer("adam", model, lr=0.1)
    loss = model["lin"](model["emb"](torch.tensor([0, 2]))).sum()
    loss.backward()
    opt.step()
    return model, opt


def test_optimizer_state_round_trips_through_json_and_tensors(tmp_path):
    model, opt = trained_optimizer()
    state = opt.state_dict()
    assert [type(o).__name__ for o in opt.optimizers] == ["RowSparseAdam", "Adam"]
    tensors: dict = {}
    skeleton = flatten_state(state, tensors)
    import json

    assert equal(unflatten_state(json.loads(json.dumps(skeleton)), tensors), state)
    save_checkpoint(tmp_path, {"global_step": 1}, model.state_dict(), state)
    loaded, weights, opt_state, best = load_checkpoint(checkpoint_dir(tmp_path))
    assert loaded == {"global_step": 1} and best is None
    assert equal(weights, dict(model.state_dict())) and equal(opt_state, state)
    _, fresh = trained_optimizer()
    fresh.load_state_dict(opt_state)  # loads into a new optimiser


def test_random_state_round_trips():
    g = torch.Generator().manual_seed(1)
    saved = rng_state(g)
    first = (torch.rand(3), torch.rand(3, generator=g), np.random.rand(), random.random())
    set_rng_state(saved, g)
    again = (torch.rand(3), torch.rand(3, generator=g), np.random.rand(), random.random())
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and first[2:] == again[2:]


def test_a_kill_at_any_moment_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch):
    lin = torch.nn.Linear(2, 1)
    save_checkpoint(tmp_path, {"global_step": 1}, lin.state_dict(), {})
    real_replace = os.replace
    for fail_at in range(1, 4):  # each os.replace of a save: files, the directory, the link
        calls = [0]

        def dying_replace(a, b, fail_at=fail_at, calls=calls):
            calls[0] += 1
            if calls[0] == fail_at:
                raise KeyboardInterrupt("killed")
            return real_replace(a, b)

        monkeypatch.setattr(os, "replace", dying_replace)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tmp_path, {"global_step": 2}, lin.state_dict(), {})
        monkeypatch.setattr(os, "replace", real_replace)
        assert load_checkpoint(checkpoint_dir(tmp_path))[0] == {"global_step": 1}
    save_checkpoint(tmp_path, {"global_step": 3}, lin.state_dict(), {})
    assert load_checkpoint(checkpoint_dir(tmp_path))[0] == {"global_step": 3}
    assert len(list(tmp_path.glob(".checkpoint-*"))) == 1  # leftovers of killed writes are gone


def _unpickling_calls(tree) -> list[str]:
    """Calls in ``tree`` that unpickle: ``pickle.load(s)``, ``torch.load(weights_only=False)``,
    ``np.load(allow_pickle=True)``."""
    import ast

    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
        flags = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
        name = f"{owner}.{node.func.attr}"
        if (
            name in ("pickle.load", "pickle.loads", "pickle.Unpickler")
            or (name == "torch.load" and flags.get("weights_only") is False)
            or (name in ("np.load", "numpy.load") and flags.get("allow_pickle") is True)
        ):
            hits.append(f"line {node.lineno}: {name}")
    return hits


def test_nothing_in_kemm_unpickles():
    import ast

    from tests.meta import scan_kemm

    assert scan_kemm(_unpickling_calls) == []
    src = "import torch, pickle\ntorch.load(f, weights_only=False)\npickle.loads(b)\ntorch.load(f)\n"
    assert _unpickling_calls(ast.parse(src)) == [
        "line 2: torch.load",
        "line 3: pickle.loads",
    ]  # the check works
