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


def _interrupted(kg_dir, out, stop_in_epoch):
    """Train 3 epochs of ``kg_dir`` into ``out``, killed in epoch ``stop_in_epoch``."""
    from kemm.embeddings.config import TrainConfig
    from kemm.embeddings.run import train_kge

    def stop(event):
        if event.kind == "step" and event.epoch == stop_in_epoch:
            raise KeyboardInterrupt

    c = TrainConfig(model="transe", model_kwargs={"dim": 8}, epochs=3, batch_size=4, checkpoint_every=1)
    with pytest.raises(KeyboardInterrupt):
        train_kge(kg_dir, out, c, callback=stop)
    return out


def test_eval_of_an_unfinished_run_says_it_evaluates_its_last_checkpoint(trained, tmp_path):
    run_dir = _interrupted(trained / "kg", tmp_path / "run", stop_in_epoch=2)
    res = run("kge", "eval", run_dir, "--split", "valid", "--json")
    line = f"run {run_dir} is not finished: evaluating its last checkpoint (epoch 1 of 3)"
    assert res.stderr.strip() == line
    data = json.loads(res.stdout)
    assert data["both"]["count"] == 4 and data["unfinished"] == {"epoch": 1, "max_epochs": 3}
    finished = run("kge", "eval", trained / "run", "--split", "valid")
    assert "not finished" not in finished.stderr and "MRR" in finished.stdout


def test_eval_of_a_run_without_checkpoint_is_one_line_error(trained, tmp_path):
    from kemm.errors import KemmError

    run_dir = _interrupted(trained / "kg", tmp_path / "run", stop_in_epoch=1)
    res = run("kge", "eval", run_dir, ok=False)
    assert isinstance(res.exception, KemmError)
    msg = str(res.exception)
    assert "no checkpoint yet" in msg and "\n" not in msg and str(run_dir) in msg
