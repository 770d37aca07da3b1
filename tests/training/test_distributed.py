"""Two CPU processes under torchrun (gloo): identical weights on both ranks; kill-and-resume is exact."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kemm.training.distributed import shard_indices

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ddp_script.py")
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")

needs_torchrun = pytest.mark.skipif(
    TORCHRUN is None or not torch.distributed.is_available(), reason="no torchrun"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args, env=None, ok=True):
    cmd = [TORCHRUN, "--nproc-per-node", "2", "--master-port", str(free_port()), *map(str, args)]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def rank_weights(run_dir: Path):
    return [load_file(run_dir / f"rank{r}.safetensors") for r in (0, 1)]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("n,world,drop_last", [(10, 1, False), (10, 3, False), (10, 3, True), (2, 4, False)])
def test_shards_are_distributed_samplers(n, world, drop_last):
    from torch.utils.data import DistributedSampler

    for rank in range(world):
        ref = DistributedSampler(range(n), num_replicas=world, rank=rank, seed=5, drop_last=drop_last)
        ref.set_epoch(3)
        assert shard_indices(n, 3, 5, rank, world, drop_last=drop_last).tolist() == list(ref)


@needs_torchrun
def test_two_ranks_agree_and_a_killed_run_resumes_exactly(tmp_path):
    torchrun(SCRIPT, "regression", tmp_path / "full")
    full0, full1 = rank_weights(tmp_path / "full")
    assert same(full0, full1)

    killed = torchrun(SCRIPT, "regression", tmp_path / "part", env={"KEMM_TEST_KILL_AT": "5"}, ok=False)
    assert killed.returncode != 0 and not (tmp_path / "part" / "rank0.safetensors").exists()
    torchrun(SCRIPT, "regression", tmp_path / "part", "--resume")
    part0, part1 = rank_weights(tmp_path / "part")
    assert same(part0, part1) and same(part0, full0)


@needs_torchrun
def test_kge_with_sparse_tables_trains_data_parallel(tmp_path):
    torchrun(SCRIPT, "kge", tmp_path / "kge")
    a, b = rank_weights(tmp_path / "kge")
    assert same(a, b)


@pytest.mark.slow
@needs_torchrun
def test_kge_cli_under_torchrun(tmp_path):
    import yaml

    from tests.conftest import FIXTURES
    from tests.conftest import run_cli as run

    run("kg", "ingest", FIXTURES / "tsv" / "tiny_split", "--out", tmp_path / "kg")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump({"model": "transe", "model_kwargs": {"dim": 8}, "epochs": 3, "batch_size": 4})
    )
    proc = torchrun(
        "-m", "kemm.cli", "kge", "train", "--kg", tmp_path / "kg", "-c", cfg, "-o", tmp_path / "run"
    )
    assert "MRR" in proc.stdout and (tmp_path / "run" / "model" / "model.safetensors").is_file()
