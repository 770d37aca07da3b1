"""``kemm pretrain`` end to end on the tiny config; SIGKILL and --resume with real subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pretraining.conftest import ROOT, write_config


def test_tiny_run_through_the_cli(tmp_path):
    cfg = write_config(tmp_path)
    run = tmp_path / "run"
    result = run_cli("pretrain", "--config", cfg, "--out", run)
    assert "valid/t2i_r1" in result.output and "data wait" in result.output
    for name in (
        "config.yaml",
        "fingerprint.json",
        "metrics.json",
        "model/config.json",
        "model/model.safetensors",
        "model/objectives.safetensors",
        "model/tokenizer.json",
        "checkpoint/state.json",
    ):
        assert (run / name).is_file(), name
    assert list((run / "tb").iterdir())
    curves = sorted(p.name for p in (run / "curves").glob("*.png"))
    assert curves == sorted(
        ["loss.png"]
        + [
            f"loss_{n}.png"
            for n in ("itc", "itm", "mlm", "masked-objects", "entity-denoising", "link-prediction")
        ]
    )
    metrics = json.loads((run / "metrics.json").read_text())
    last = metrics["history"][-1]
    for k in (
        "loss/itc",
        "loss/itm",
        "loss/mlm",
        "loss/masked-objects",
        "loss/entity-denoising",
        "loss/link-prediction",
    ):
        assert k in last
    assert {
        "valid/t2i_r1",
        "valid/t2i_r5",
        "valid/moc_acc_seen",
        "valid/moc_acc_heldout",
        "valid/dea_acc",
    } <= set(metrics["metrics"])
    assert 0.0 <= metrics["data_wait_fraction"] < 1.0
    from kemm.models import load_model

    model = load_model(run / "model")
    assert model.config.fusion == "ernie"
    again = run_cli("pretrain", "--config", cfg, "--out", run, "--resume", ok=False)
    assert again.exit_code != 0 and "finished" in str(again.exception)


def test_fusion_none_twin_runs_the_same_path(tmp_path):
    cfg = write_config(tmp_path, model={**_tiny_model(), "fusion": "none"}, **{"engine.max_epochs": 1})
    run_cli("pretrain", "--config", cfg, "--out", tmp_path / "none")
    from kemm.models import load_model

    assert load_model(tmp_path / "none" / "model").config.fusion == "none"


def _tiny_model():
    import yaml

    return yaml.safe_load((ROOT / "configs" / "pretrain" / "tiny.yaml").read_text())["model"]


def test_unknown_key_is_named(tmp_path):
    cfg = write_config(tmp_path, optimiser="adamw")
    result = run_cli("pretrain", "--config", cfg, "--out", tmp_path / "run", ok=False)
    assert result.exit_code != 0
    assert "did you mean 'optimizer'" in str(result.exception)


def _cli(cfg, out, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "kemm.cli", "pretrain", "--config", str(cfg), "--out", str(out), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_and_resume_reach_the_same_weights(tmp_path):
    changes = {"engine.max_epochs": 3, "engine.checkpoint_every_steps": 1, "engine.validate_every": 0}
    cfg = write_config(tmp_path, **changes)
    full = _cli(cfg, tmp_path / "full")
    killed = _cli(cfg, tmp_path / "killed")
    state = tmp_path / "killed" / "checkpoint" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if json.loads(state.read_text())["global_step"] >= 6:
                break
        except (OSError, ValueError, KeyError):
            pass
        assert killed.poll() is None, killed.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    resumed = _cli(cfg, tmp_path / "killed", "--resume")
    assert resumed.wait(300) == 0, resumed.stderr.read().decode()[-2000:]
    assert full.wait(300) == 0, full.stderr.read().decode()[-2000:]
    for name in ("model.safetensors", "objectives.safetensors"):
        a, b = (tmp_path / run / "model" / name for run in ("full", "killed"))
        _assert_same_tensors(a, b)
        assert a.read_bytes() == b.read_bytes(), f"{name}: same tensors, different bytes"


def _assert_same_tensors(a: Path, b: Path) -> None:
    """The two safetensors files hold the same tensor names, metadata and values (named when not)."""
    import torch
    from safetensors import safe_open

    with safe_open(str(a), "pt") as fa, safe_open(str(b), "pt") as fb:
        ka, kb = set(fa.keys()), set(fb.keys())
        assert ka == kb, f"{a.name}: only in full {sorted(ka - kb)}, only in resumed {sorted(kb - ka)}"
        assert fa.metadata() == fb.metadata()
        differ = [k for k in sorted(ka) if not torch.equal(fa.get_tensor(k), fb.get_tensor(k))]
    assert not differ, f"{a.name}: tensors that differ: {differ}"


@pytest.mark.parametrize("flag", ["--on-error"])
def test_on_error_skip_writes_the_skipped_records(tmp_path, flag):
    cfg = write_config(tmp_path, **{"engine.max_epochs": 1})
    caps = tmp_path / "data" / "annotations" / "captions_train.json"
    data = json.loads(caps.read_text())
    data["annotations"].append({"id": 999, "image_id": 1})  # no caption
    caps.write_text(json.dumps(data))
    bad = run_cli("pretrain", "--config", cfg, "--out", tmp_path / "a", ok=False)
    assert bad.exit_code != 0 and "captions_train.json" in str(bad.exception)
    ok = run_cli("pretrain", "--config", cfg, "--out", tmp_path / "b", flag, "skip")
    assert "skipped 1 bad records" in ok.output
    assert len((tmp_path / "b" / "skipped.tsv").read_text().splitlines()) == 2


@pytest.mark.slow
def test_torchrun_two_ranks(tmp_path):
    """Data parallel on CPU (gloo): features gathered for ITC, every parameter gets a gradient."""
    cfg = write_config(tmp_path, **{"engine.max_epochs": 1})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    torchrun = str(Path(sys.executable).parent / "torchrun")
    cmd = [
        torchrun,
        "--nproc-per-node",
        "2",
        "-m",
        "kemm.cli",
        "pretrain",
        "--config",
        str(cfg),
        "--out",
        str(tmp_path / "run"),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
