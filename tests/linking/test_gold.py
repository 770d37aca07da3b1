"""The bundled gold set is well formed and names entities of the bundled commonsense KG."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "knowledge_graphs" / "commonsense" / "gold_linking.jsonl"
TTL = ROOT / "knowledge_graphs" / "commonsense" / "commonsense.ttl"


@pytest.mark.skipif(not GOLD.exists() or not TTL.exists(), reason="bundled KG or gold set absent")
def test_gold_set_spans_and_keys():
    from kemm.kg import ingest

    kg, _ = ingest([TTL])
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    assert sum(not r["mentions"] for r in rows) >= 20  # sentences that mention no KG concept
    for r in rows:
        ends = [(m["start"], m["end"]) for m in r["mentions"]]
        assert ends == sorted(ends) and all(a[1] <= b[0] for a, b in zip(ends, ends[1:])), r["id"]
        for m in r["mentions"]:
            assert r["text"][m["start"] : m["end"]] == m["text"], r["id"]
            assert m["key"] in kg.entities.index, (r["id"], m["key"])
