"""``kemm eval``: linkpred and remove-facts from the command line."""

from __future__ import annotations

import json

from kemm.embeddings.config import TrainConfig
from kemm.embeddings.run import train_kge
from kemm.kg import KnowledgeGraph, ingest
from tests.conftest import FIXTURES, run_cli


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
