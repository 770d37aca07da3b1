"""Training on the 12-entity tiny_split KG: the loss falls, MRR beats random, resume is exact, NaN stops."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from kemm.embeddings.config import TrainConfig
from kemm.embeddings.run import load_run, train_kge
from kemm.embeddings.training import TrainingDivergedError
from kemm.errors import KemmError
from kemm.kg import KnowledgeGraph, ingest


@pytest.fixture(scope="module")
def kg_dir(tmp_path_factory):
    from tests.conftest import FIXTURES

    kg, _ = ingest([FIXTURES / "tsv" / "tiny_split"])
    return kg.save(tmp_path_factory.mktemp("kg") / "tiny")


def cfg(**kw):
    base = dict(
        model="distmult",
        model_kwargs={"dim": 16},
        loop="slcwa",
        loss="softplus",
        num_negatives=4,
        lr=0.05,
        batch_size=4,
        epochs=30,
        checkpoint_every=5,
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "loop,loss",
    [("slcwa", "softplus"), ("slcwa", "margin"), ("slcwa", "nssa"), ("lcwa", "softmax"), ("lcwa", "bce")],
)
def test_loss_goes_down_and_mrr_beats_random(kg_dir, tmp_path, loop, loss):
    res = train_kge(
        kg_dir,
        tmp_path / "run",
        cfg(loop=loop, loss=loss, model="complex", regularizer="n3", regularizer_weight=0.001),
    )
    hist = res.training.history
    assert hist[-1]["loss"] < hist[0]["loss"]
    kg = KnowledgeGraph.load(kg_dir)
    train = kg.split("train")
    from kemm.embeddings.evaluation import evaluate

    mrr_train = evaluate(res.model, train, train).mrr
    assert mrr_train > 0.5  # random ranking of 12 entities gives about 0.26
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["both"]["count"] == 4


def test_resume_gives_the_same_parameters(kg_dir, tmp_path):
    c = cfg(eval_every=5, early_stopping_patience=0)
    train_kge(kg_dir, tmp_path / "full", c)
    short = cfg(eval_every=5, early_stopping_patience=0, epochs=15)
    train_kge(kg_dir, tmp_path / "part", short)
    train_kge(kg_dir, tmp_path / "part", c, resume=True)
    a = load_file(tmp_path / "full" / "model" / "model.safetensors")
    b = load_file(tmp_path / "part" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sparse_sampled_gnn_and_sparse_tables_train(kg_dir, tmp_path):
    train_kge(kg_dir, tmp_path / "s", cfg(model="transe", model_kwargs={"dim": 8, "sparse": True}, epochs=3))
    res = train_kge(
        kg_dir,
        tmp_path / "g",
        cfg(model="rgcn", model_kwargs={"dim": 8, "num_bases": 2}, num_neighbors=[3, 3], epochs=3),
    )
    assert np.isfinite(res.training.history[-1]["loss"])


def test_nan_loss_stops_with_step_and_keeps_checkpoint(kg_dir, tmp_path, monkeypatch):
    train_kge(kg_dir, tmp_path / "run", cfg(epochs=5))
    before = load_file(tmp_path / "run" / "checkpoint" / "model.safetensors")
    from kemm.embeddings.losses import SoftplusLoss

    monkeypatch.setattr(SoftplusLoss, "slcwa", lambda self, pos, neg, weight=None: (pos * float("nan")).sum())
    with pytest.raises(TrainingDivergedError, match=r"epoch 6, step 1\b.*last good checkpoint"):
        train_kge(kg_dir, tmp_path / "run", cfg(epochs=8), resume=True)
    after = load_file(tmp_path / "run" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bad_input(kg_dir, tmp_path, fixtures):
    kg, _ = ingest([fixtures / "rdf" / "tiny.ttl"])
    nosplit = kg.save(tmp_path / "nosplit")
    with pytest.raises(KemmError, match="kemm kg split"):
        train_kge(nosplit, tmp_path / "r0", cfg())
    train_kge(kg_dir, tmp_path / "r1", cfg(epochs=1))
    with pytest.raises(KemmError, match="mismatched vocabulary"):
        load_run(tmp_path / "r1", nosplit)
    with pytest.raises(KemmError, match="already holds a run"):
        train_kge(kg_dir, tmp_path / "r1", cfg(epochs=1))
    with pytest.raises(KemmError, match="other settings or inputs.*config lr: 0.05 -> 0.1"):
        train_kge(kg_dir, tmp_path / "r1", cfg(epochs=2, lr=0.1), resume=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model", ["transe", "rotate", "rgcn"])
def test_trains_on_cuda(kg_dir, tmp_path, model):
    kw = {"dim": 16} if model != "rgcn" else {"dim": 16, "num_bases": 2}
    res = train_kge(kg_dir, tmp_path / "gpu", cfg(model=model, model_kwargs=kw, device="cuda"))
    hist = res.training.history
    assert hist[-1]["loss"] < hist[0]["loss"]


def _interrupted_run(kg_dir, out, epochs=3, stop_in_epoch=2):
    """A run killed in epoch ``stop_in_epoch`` of ``epochs``: its checkpoint is at the epoch before."""

    def stop(event):
        if event.kind == "step" and event.epoch == stop_in_epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_kge(kg_dir, out, cfg(epochs=epochs, checkpoint_every=1), callback=stop)
    assert not (out / "model").exists() and (out / "checkpoint" / "state.json").is_file()
    return out


def test_evaluate_run_of_an_unfinished_run_uses_its_last_checkpoint(kg_dir, tmp_path):
    from kemm.embeddings.evaluation import evaluate
    from kemm.embeddings.run import RunEvaluation, evaluate_run

    run_dir = _interrupted_run(kg_dir, tmp_path / "run")
    res = evaluate_run(run_dir, "valid")
    assert isinstance(res, RunEvaluation) and not res.finished
    assert (res.checkpoint.epoch, res.checkpoint.max_epochs) == (1, 3)
    assert res.as_dict()["unfinished"] == {"epoch": 1, "max_epochs": 3}
    model, kg = load_run(run_dir)  # the checkpoint's weights
    weights = load_file(run_dir / "checkpoint" / "model.safetensors")
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items() if k in weights)
    known = np.concatenate([kg.split(s) for s in ("train", "valid", "test")])
    assert res.mrr == evaluate(model, kg.split("valid"), known).mrr

    finished = train_kge(kg_dir, tmp_path / "done", cfg(epochs=1))
    done = evaluate_run(finished.run_dir, "valid")
    assert (
        isinstance(done, RunEvaluation)
        and done.finished
        and done.checkpoint is None
        and "unfinished" not in done.as_dict()
    )


def test_evaluate_run_without_weights_says_so(kg_dir, tmp_path):
    from kemm.embeddings.run import evaluate_run

    def stop(event):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_kge(kg_dir, tmp_path / "run", cfg(epochs=3), callback=stop)  # before any checkpoint
    with pytest.raises(KemmError, match="no weights to use.*no checkpoint yet") as e:
        evaluate_run(tmp_path / "run")
    assert "\n" not in str(e.value)
