"""evaluate_task end to end: the bundled benchmark's layout, predictions files, baselines, bad input."""

from __future__ import annotations

import json

import pytest

from kemm.errors import InputError, KemmError
from kemm.evaluation.benchmark import Benchmark
from kemm.evaluation.runner import benchmark_task, evaluate_task
from kemm.evaluation.tasks import read_predictions


@pytest.mark.parametrize("task", ["csqa", "okvqa", "lama"])
def test_train_prior_on_the_benchmark(tiny_benchmark, tmp_path, task):
    res = benchmark_task(tiny_benchmark, task, "test", tmp_path / task, baseline="train-prior")
    assert 0.0 <= next(iter(res.metrics.values())) <= 1.0 and res.counts["examples"] > 0
    # every test question is about a held-out entity, and every relation is reported
    assert set(res.groups) >= {"heldout"} and res.per_relation
    assert (tmp_path / task / "metrics.json").is_file()
    if task == "okvqa":
        # the same rule as stats.json's train-prior baseline, so the same figure
        assert res.metrics["vqa_accuracy"] == pytest.approx(
            Benchmark(tiny_benchmark).vqa_train_prior("test"), abs=1e-6
        )
        assert "oov_gold" in res.counts


def test_predictions_file_round_trip_and_id_check(tiny_benchmark, tmp_path):
    first = benchmark_task(tiny_benchmark, "csqa", "test", tmp_path / "a", baseline="train-prior")
    again = benchmark_task(tiny_benchmark, "csqa", "test", tmp_path / "b", predictions=first.predictions_path)
    assert again.metrics == first.metrics
    lines = first.predictions_path.read_text().splitlines()
    (tmp_path / "short.jsonl").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(InputError, match="1 missing"):
        benchmark_task(tiny_benchmark, "csqa", "test", tmp_path / "c", predictions=tmp_path / "short.jsonl")
    bad = [dict(json.loads(x), prediction="A") for x in lines]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bad))
    with pytest.raises(KemmError, match="option indices"):
        benchmark_task(tiny_benchmark, "csqa", "test", tmp_path / "d", predictions=tmp_path / "labels.jsonl")


def test_ids_file_selects_questions(tiny_benchmark, tmp_path):
    full = benchmark_task(tiny_benchmark, "csqa", "test", tmp_path / "a", baseline="train-prior")
    ids = [p.id for p in read_predictions(full.predictions_path)][:2]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    res = benchmark_task(
        tiny_benchmark, "csqa", "test", tmp_path / "b", baseline="train-prior", ids_file=tmp_path / "ids.txt"
    )
    assert res.counts["examples"] == 2


def test_bad_input(tiny_benchmark, tmp_path):
    b = Benchmark(tiny_benchmark)
    with pytest.raises(KemmError, match="exactly one"):
        evaluate_task("csqa", tmp_path, b.dataset("csqa", "test"))
    with pytest.raises(KemmError, match="needs the training split"):
        evaluate_task("csqa", tmp_path, b.dataset("csqa", "test"), baseline="train-prior")
    with pytest.raises(KemmError, match="full ranking"):
        benchmark_task(tiny_benchmark, "lama", "test", tmp_path, predictions=tmp_path / "p.jsonl")
    with pytest.raises(KemmError, match="not a kemm benchmark"):
        Benchmark(tmp_path)
