import json

import numpy as np
import pytest

from kemm.errors import KemmError
from kemm.kg import KnowledgeGraph


def test_round_trip_is_exact_and_memory_mapped(tiny_kg, tmp_path):
    tiny_kg.entities.labels[0] = "tab\there\nnewline \\ backslash"
    tiny_kg.save(tmp_path / "kg")
    kg = KnowledgeGraph.load(tmp_path / "kg", verify=True)
    assert isinstance(kg.triples, np.memmap) and kg.triples.dtype == np.int32
    np.testing.assert_array_equal(kg.triples, tiny_kg.triples)
    assert kg.entities.keys == tiny_kg.entities.keys
    assert kg.entities.labels == tiny_kg.entities.labels
    assert kg.entities.aliases == tiny_kg.entities.aliases
    assert kg.entities.descriptions == tiny_kg.entities.descriptions
    assert kg.relations.labels == tiny_kg.relations.labels
    assert list(kg.attributes.rows()) == list(tiny_kg.attributes.rows())
    meta = json.loads((tmp_path / "kg" / "meta.json").read_text())
    assert (meta["num_entities"], meta["num_relations"], meta["num_triples"]) == (15, 6, 15)
    assert meta["sources"][0]["sha256"] and "triples.npy" in meta["files"]


def test_crash_while_saving_leaves_old_graph(tiny_kg, tmp_path, monkeypatch):
    target = tmp_path / "kg"
    tiny_kg.save(target)
    before = (target / "triples.npy").read_bytes()

    import kemm.kg.store as store

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.np, "save", boom)
    with pytest.raises(RuntimeError):
        tiny_kg.save(target)
    assert (target / "triples.npy").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kg"]  # no temporary directory left behind
    KnowledgeGraph.load(target)


def test_incomplete_directory_does_not_load(tiny_kg, tmp_path):
    tiny_kg.save(tmp_path / "kg")
    (tmp_path / "kg" / "meta.json").unlink()
    with pytest.raises(KemmError, match="meta.json is missing"):
        KnowledgeGraph.load(tmp_path / "kg")


def test_corruption_is_detected_by_verify(tiny_kg, tmp_path):
    tiny_kg.save(tmp_path / "kg")
    with open(tmp_path / "kg" / "entities.tsv", "a") as f:
        f.write("")
    p = tmp_path / "kg" / "relations.tsv"
    p.write_text(p.read_text().replace("is a", "is an"))
    KnowledgeGraph.load(tmp_path / "kg")  # the fast path does not hash
    with pytest.raises(KemmError, match="checksum"):
        KnowledgeGraph.load(tmp_path / "kg", verify=True)


def test_missing_directory(tmp_path):
    with pytest.raises(KemmError, match="no such KG directory"):
        KnowledgeGraph.load(tmp_path / "nope")


def test_bytes_per_triple(tiny_kg):
    assert tiny_kg.triples.nbytes / tiny_kg.num_triples == 12
