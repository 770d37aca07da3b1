"""``kemm kge train / eval / neighbors`` end to end on the tiny_split KG."""

import json

import pytest
import yaml

from tests.conftest import run_cli as run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import FIXTURES

    d = tmp_path_factory.mktemp("kge")
    run("kg", "ingest", FIXTURES / "tsv" / "tiny_split", "--out", d / "kg")
    cfg = d / "c.yaml"
    cfg.write_text(
        yaml.safe_dump({"model": "transe", "model_kwargs": {"dim": 8}, "epochs": 5, "batch_size": 4})
    )
    res = run("kge", "train", "--kg", d / "kg", "--config", cfg, "--out", d / "run")
    assert "MRR" in res.stdout
    return d


def test_train_writes_run_directory(trained):
    run_dir = trained / "run"
    for name in (
        "config.yaml",
        "kg.json",
        "metrics.json",
        "model/model.safetensors",
        "checkpoint/state.json",
        "fingerprint.json",
    ):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))


def test_eval_json(trained):
    res = run("kge", "eval", trained / "run", "--split", "valid", "--json")
    assert json.loads(res.stdout)["both"]["count"] == 4


def test_neighbors_and_unknown_entity(trained):
    res = run("kge", "neighbors", trained / "run", "apple", "-k", "3")
    assert "nearest to apple" in res.stdout and (trained / "run" / "entities.faiss").exists()
    res = run("kge", "neighbors", trained / "run", "durian", ok=False)
    assert res.exit_code != 0 and "unknown entity 'durian'" in str(res.exception)


def test_resume_of_a_finished_run_says_it_is_finished(trained):
    from kemm.training import RunFinishedError

    c = trained / "c.yaml"
    res = run(
        "kge", "train", "--kg", trained / "kg", "--config", c, "--out", trained / "run", "--resume", ok=False
    )
    assert isinstance(res.exception, RunFinishedError) and "is finished (5 of 5 epochs done)" in str(
        res.exception
    )
