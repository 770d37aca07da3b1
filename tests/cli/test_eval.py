"""``kemm eval``: linkpred and remove-facts from the command line."""

from __future__ import annotations

import json

from kemm.embeddings.config import TrainConfig
from kemm.embeddings.run import train_kge
from kemm.kg import KnowledgeGraph, ingest
from tests.conftest import FIXTURES, run_cli
from tests.evaluation.conftest import build_tiny_benchmark


def test_linkpred(tmp_path):
    kg, _ = ingest([FIXTURES / "tsv" / "tiny_split"])
    kg_dir = kg.save(tmp_path / "kg")
    cfg = TrainConfig(model="transe", model_kwargs={"dim": 8}, epochs=2, batch_size=8, tensorboard=False)
    train_kge(kg_dir, tmp_path / "run", cfg)
    res = run_cli("eval", "linkpred", tmp_path / "run", "--out", tmp_path / "lp", "--json")
    assert json.loads(res.stdout)["task"] == "linkpred"
    assert (tmp_path / "lp" / "predictions.jsonl").is_file() and (tmp_path / "lp" / "metrics.json").is_file()
    bad = run_cli("eval", "linkpred", tmp_path / "nope", "--out", tmp_path / "lp2", ok=False)
    assert bad.exit_code != 0 and "not a kemm KGE run directory" in str(bad.exception)


def test_remove_facts(tmp_path):
    (tmp_path / "kg.tsv").write_text(
        "apple\tIsA\tfruit\nknife\tIsA\ttool\ncar\tHasA\twheel\nwheel\tPartOf\tcar\n"
    )
    kg, _ = ingest([tmp_path / "kg.tsv"], format="tsv")
    kg.save(tmp_path / "kg")
    rec = {
        "uuid": "u1",
        "pred": "HasA",
        "sub_label": "car",
        "obj_label": "wheel",
        "masked_sentences": ["A car has a [MASK]."],
    }
    (tmp_path / "test.jsonl").write_text(json.dumps(rec) + "\n")
    res = run_cli(
        "eval",
        "remove-facts",
        "--kg",
        tmp_path / "kg",
        "-d",
        tmp_path / "test.jsonl",
        "-f",
        "lama",
        "--out",
        tmp_path / "removed",
    )
    assert "removed 2 triples for 1 facts" in res.stdout
    assert KnowledgeGraph.load(tmp_path / "removed").num_triples == 2


def test_csqa_on_the_real_format_fixture(tmp_path):
    csqa = FIXTURES / "datasets" / "commonsenseqa" / "train_rand_split.jsonl"
    res = run_cli(
        "eval",
        "csqa",
        "--dataset",
        csqa,
        "--train",
        csqa,
        "--baseline",
        "train-prior",
        "--out",
        tmp_path / "csqa",
        "--json",
    )
    doc = json.loads(res.stdout)
    assert doc["counts"] == {"examples": 2} and doc["info"]["source"] == "baseline:train-prior"


def test_okvqa_on_the_real_format_fixture(tmp_path):
    ok = FIXTURES / "datasets" / "okvqa"
    q = ok / "OpenEnded_mscoco_val2014_questions.json"
    (tmp_path / "p.jsonl").write_text(
        '{"id": "1390", "prediction": "wood", "gold": null, "correct": null, "entities": []}\n'
        '{"id": "1391", "prediction": "ski", "gold": null, "correct": null, "entities": []}\n'
    )
    res = run_cli(
        "eval",
        "okvqa",
        "--dataset",
        q,
        "--images",
        ok / "val2014",
        "--train",
        q,
        "--predictions",
        tmp_path / "p.jsonl",
        "--out",
        tmp_path / "ok",
        "--json",
    )
    doc = json.loads(res.stdout)
    # wood: 4 of 10 humans -> 1.0; ski: 2 of 10 -> 0.6
    assert doc["metrics"]["vqa_accuracy"] == 0.8


def test_lama_on_the_benchmark(tmp_path):
    tiny_benchmark = build_tiny_benchmark(tmp_path / "bench")
    res = run_cli(
        "eval",
        "lama",
        "--benchmark",
        tiny_benchmark,
        "--baseline",
        "train-prior",
        "--out",
        tmp_path / "lama",
        "--json",
    )
    doc = json.loads(res.stdout)
    assert set(doc["metrics"]) == {"p_at_1", "p_at_10", "mrr"} and "multi_token_objects" in doc["counts"]
