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


SENSES = ROOT / "knowledge_graphs" / "commonsense" / "gold_wordnet_senses.jsonl"
WORDNET = ROOT / "knowledge_graphs" / "wordnet"


def _lemmas(word: str) -> list[str]:
    w = word.lower()
    return [w, w[:-1], w[:-2], w[:-3] + "y", w[:-3] + "f", w[:-3] + "fe"]


@pytest.mark.skipif(
    not SENSES.exists() or not WORDNET.exists(), reason="bundled WordNet or sense gold set absent"
)
def test_sense_gold_set_names_noun_senses_that_are_not_the_most_frequent():
    from kemm.kg.readers.wordnet import SYNSET_IRI, read_index

    index = read_index(WORDNET / "index.noun.gz")
    rows = [json.loads(line) for line in SENSES.read_text(encoding="utf-8").splitlines() if line.strip()]
    mentions = [(r, m) for r in rows for m in r["mentions"]]
    assert len(mentions) >= 100 and len({r["id"] for r in rows}) == len(rows)
    assert len({m["text"].lower() for _, m in mentions}) >= 50  # many different words, not one repeated
    for r, m in mentions:
        assert r["text"][m["start"] : m["end"]] == m["text"], r["id"]
        assert m["key"].startswith(SYNSET_IRI) and m["key"].endswith("-n"), r["id"]
        offset = m["key"][len(SYNSET_IRI) : -2]
        lemmas = [w for w in _lemmas(m["text"]) if w in index and offset in index[w][0]]
        assert lemmas, (r["id"], m["text"], "the gold synset is no sense of the word")
        senses = index[lemmas[0]][0]
        assert len(senses) > 1 and senses[0] != offset, (
            r["id"],
            m["text"],
            "the most frequent sense is right",
        )
