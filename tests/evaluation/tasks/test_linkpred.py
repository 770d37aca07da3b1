"""``linkpred``: a KGE run's filtered link prediction as a TaskResult with a predictions file."""

from __future__ import annotations

import json

import pytest

from kemm.embeddings.config import TrainConfig
from kemm.embeddings.run import evaluate_run, train_kge
from kemm.errors import KemmError
from kemm.evaluation.tasks import EVAL_TASKS, TaskResult, read_predictions
from kemm.evaluation.tasks.linkpred import evaluate_linkpred
from kemm.kg import KnowledgeGraph, ingest
from kemm.kg.store import save_splits


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tests.conftest import FIXTURES

    kg, _ = ingest([FIXTURES / "tsv" / "tiny_split"])
    kg_dir = kg.save(tmp_path_factory.mktemp("kg") / "tiny")
    out = tmp_path_factory.mktemp("run") / "run"
    cfg = TrainConfig(model="distmult", model_kwargs={"dim": 8}, epochs=3, batch_size=8, tensorboard=False)
    train_kge(kg_dir, out, cfg)
    return out


def test_registered():
    assert EVAL_TASKS.get("link_prediction").registered_name == "linkpred"


def test_metrics_are_evaluate_runs_and_predictions_match(run_dir, tmp_path):
    res = evaluate_linkpred(run_dir, tmp_path / "lp")
    ref = evaluate_run(run_dir)
    assert res.metrics["mrr"] == ref.mrr and res.metrics["hits_at_10"] == ref.both.hits_at_10
    assert res.counts == {"triples": ref.tail.count, "ranks": 2 * ref.tail.count}
    assert set(res.per_relation) == set(ref.per_relation) and set(res.groups) == {"head", "tail"}
    kg = KnowledgeGraph.load(json.loads((run_dir / "kg.json").read_text())["path"])
    ids = [f"test/{i}/{s}" for i in range(len(kg.splits["test"])) for s in ("tail", "head")]
    preds = read_predictions(res.predictions_path, expected_ids=ids)
    # a prediction is correct exactly when its realistic rank is 1, and then it is the gold entity
    assert all(p.correct == (p.extra["rank"] == 1) for p in preds)
    assert all(p.prediction == p.gold for p in preds if p.correct)
    hits1 = sum(p.correct for p in preds) / len(preds)
    assert hits1 == pytest.approx(ref.both.hits_at_1)
    assert TaskResult.load(tmp_path / "lp") == res


def test_empty_split_is_an_error(run_dir, tmp_path):
    kg_path = json.loads((run_dir / "kg.json").read_text())["path"]
    kg = KnowledgeGraph.load(KnowledgeGraph.load(kg_path).save(tmp_path / "kg"))
    save_splits(kg, {k: (v if k != "test" else v[:0]) for k, v in kg.splits.items()})
    with pytest.raises(KemmError, match="'test' split is missing or empty"):
        evaluate_linkpred(run_dir, tmp_path / "lp", kg=kg.path)


def test_given_triples_rank_like_the_split(run_dir, tmp_path):
    kg = KnowledgeGraph.load(json.loads((run_dir / "kg.json").read_text())["path"])
    split = evaluate_linkpred(run_dir, tmp_path / "a")
    given = evaluate_linkpred(
        run_dir, tmp_path / "b", split="facts", triples=kg.split("test"), task="linkpred-facts"
    )
    assert given.task == "linkpred-facts" and given.metrics == pytest.approx(split.metrics)
    assert read_predictions(given.predictions_path)[0].id == "facts/0/tail"
