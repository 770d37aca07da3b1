import logging

import numpy as np
import pytest

from kemm.kg import KnowledgeGraph
from kemm.linking import AliasTable, EntityLinker, LinkerConfig
from kemm.linking.cache import AliasCache

TEXT = "Knives cut apples, and the ice-creams melted in the freezer."


def links(linker):
    return [(lk.start, lk.end, lk.key, lk.reason, lk.score) for lk in linker.link(TEXT)]


@pytest.fixture
def kg_dir(tmp_path):
    from kemm.kg import ingest
    from tests.linking.conftest import KITCHEN

    return ingest([KITCHEN])[0].save(tmp_path / "kitchen")


def test_second_start_reads_the_cache(kg_dir, monkeypatch):
    cfg = LinkerConfig(encoder=None)
    first = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    files = sorted((kg_dir / "cache").glob("aliases-*.npz"))
    assert len(files) == 1

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the alias table was rebuilt")

    monkeypatch.setattr(AliasTable, "from_kg", no_rebuild)
    monkeypatch.setattr("kemm.linking.candidates.CandidateGenerator.tokenize_forms", no_rebuild)
    second = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    assert second.table.forms == first.table.forms
    assert links(second) == links(first) and len(links(first)) == 5


def test_key_follows_config_and_kg(kg_dir):
    """Fields that change the table change the key; scoring fields and other KGs' files do not."""
    kg = KnowledgeGraph.load(kg_dir)
    lk = EntityLinker.from_kg(kg, LinkerConfig(encoder=None))
    info = lk.pipeline_info
    key = AliasCache.for_kg(kg, LinkerConfig(encoder=None), info).key
    assert AliasCache.for_kg(kg, LinkerConfig(encoder=None, min_alias_chars=3), info).key != key
    assert AliasCache.for_kg(kg, LinkerConfig(encoder=None, use_lemmas=False), info).key != key
    assert AliasCache.for_kg(kg, LinkerConfig(encoder=None, nil_threshold=0.5), info).key == key
    changed = KnowledgeGraph.load(kg_dir)
    changed.entities.labels[0] += " changed"
    other = KnowledgeGraph.load(changed.save(kg_dir.parent / "changed"))
    assert AliasCache.for_kg(other, LinkerConfig(encoder=None), info).key != key
    from kemm.kg import ingest
    from tests.linking.conftest import KITCHEN

    assert AliasCache.for_kg(ingest([KITCHEN])[0], LinkerConfig(encoder=None), info) is None  # in memory


def test_corrupt_cache_is_rebuilt(kg_dir, caplog):
    cfg = LinkerConfig(encoder=None)
    first = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    (path,) = (kg_dir / "cache").glob("aliases-*.npz")
    path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING):
        again = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    assert "unreadable alias cache" in caplog.text
    assert links(again) == links(first)
    with np.load(path, allow_pickle=False) as z:  # rewritten, loadable without pickle
        assert "pat_tokens" in z


def test_dense_vectors_are_cached(kg_dir, monkeypatch):
    from kemm.linking.encoder import CharNgramEncoder

    encoded: list[int] = []
    original = CharNgramEncoder.encode

    def counting(self, texts):
        encoded.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(CharNgramEncoder, "encode", counting)
    cfg = LinkerConfig(encoder="char-ngram", dense_threshold=0.6, context_weight=0.0)
    first = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    res = [lk.key for lk in first.link("We ate a bannana.")]
    n_forms = len(first.candidates.forms)
    assert n_forms in encoded
    (vec,) = (kg_dir / "cache").glob("dense-*.npy")
    assert np.load(vec, allow_pickle=False).shape == (n_forms, 1024)
    encoded.clear()
    second = EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)
    assert [lk.key for lk in second.link("We ate a bannana.")] == res
    assert encoded == [1]  # the query only: the forms' vectors came from the cache
