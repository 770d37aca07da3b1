"""Nearest-neighbour search over entity embeddings with faiss (exact inner product on normalised vectors)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kemm.errors import KemmError


@dataclass
class Neighbor:
    """One search hit: entity id, cosine similarity to the query."""

    entity: int
    score: float


class EntityIndex:
    """A faiss ``IndexFlatIP`` over L2-normalised entity vectors (cosine similarity).

    Args:
        vectors: ``(num_entities, dim)`` float array.
    """

    def __init__(self, vectors: np.ndarray) -> None:
        import faiss

        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise KemmError(f"cannot index embeddings of shape {x.shape}")
        faiss.normalize_L2(x)
        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)
        self.vectors = x

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, entity: int, k: int = 10, exclude_self: bool = True) -> list[Neighbor]:
        """The ``k`` entities closest to ``entity``."""
        if not 0 <= entity < len(self):
            raise KemmError(f"entity id {entity} is outside the index (0..{len(self) - 1})")
        scores, ids = self.index.search(
            self.vectors[entity : entity + 1], min(len(self), k + int(exclude_self))
        )
        hits = [Neighbor(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if exclude_self:
            hits = [n for n in hits if n.entity != entity]
        return hits[:k]

    def save(self, path: str | Path) -> Path:
        """Write the faiss index to ``path`` (atomically)."""
        import faiss

        from kemm.utils.io import atomic_write

        path = Path(path)
        with atomic_write(path, mode="wb") as f:
            f.write(faiss.serialize_index(self.index).tobytes())
        return path

    @classmethod
    def load(cls, path: str | Path) -> EntityIndex:
        import faiss

        index = faiss.deserialize_index(np.fromfile(str(path), dtype=np.uint8))
        obj = cls.__new__(cls)
        obj.index = index  # type: ignore[assignment]  # any faiss index type
        obj.vectors = index.reconstruct_n(0, index.ntotal)
        return obj
