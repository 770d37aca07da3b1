"""Device choice: auto picks CUDA when present; CUDA without it is a one-line error, CLI included."""

import subprocess
import sys

import pytest
import torch

from kemm.errors import KemmError
from kemm.training import Engine, EngineConfig, resolve_device
from tests.training.regression import Regression

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")


def test_auto_and_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(KemmError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@no_cuda
def test_cuda_without_cuda_is_one_line():
    with pytest.raises(KemmError) as e:
        resolve_device("cuda")
    assert "\n" not in str(e.value) and "--device cpu" in str(e.value)


@no_cuda
def test_cli_cuda_without_cuda_is_one_line(tmp_path):
    from tests.conftest import FIXTURES
    from tests.conftest import run_cli as run

    run("kg", "ingest", FIXTURES / "tsv" / "tiny_split", "--out", tmp_path / "kg")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: transe\nmodel_kwargs: {dim: 4}\nepochs: 1\n")
    cmd = [sys.executable, "-m", "kemm.cli", "kge", "train", "--kg", tmp_path / "kg", "-c", cfg]
    proc = subprocess.run(
        [*map(str, cmd), "-o", str(tmp_path / "r"), "--device", "cuda"], capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr and "CUDA" in proc.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_engine_on_cuda(precision, tmp_path):
    task = Regression()
    res = Engine(task, EngineConfig(max_epochs=3, device="cuda", precision=precision), tmp_path, []).fit()
    assert next(task.model.parameters()).is_cuda and res.history[-1]["loss"] < res.history[0]["loss"]
    resumed = Regression()
    res = Engine(resumed, EngineConfig(max_epochs=4, device="cuda", precision=precision), tmp_path, []).fit(
        True
    )
    assert res.epochs_run == 4
