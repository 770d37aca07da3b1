import numpy as np

from kemm.embeddings.index import EntityIndex


def test_nearest_neighbours_and_round_trip(tmp_path):
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    idx = EntityIndex(x)
    hits = idx.search(0, k=2)
    assert [h.entity for h in hits] == [1, 2]
    loaded = EntityIndex.load(idx.save(tmp_path / "e.faiss"))
    assert [h.entity for h in loaded.search(0, k=3)] == [1, 2, 3]
