"""Accumulate a knowledge graph from one or more sources, then freeze it into a KnowledgeGraph."""

from __future__ import annotations

import array
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kemm.errors import KemmError
from kemm.kg.graph import Attributes, KnowledgeGraph
from kemm.kg.vocab import VocabularyBuilder

logger = logging.getLogger(__name__)

#: Name of the split a triple belongs to when its source has none.
NO_SPLIT = ""


@dataclass
class SourceRecord:
    """What one source file contributed; stored in ``meta.json``."""

    path: str
    format: str
    sha256: str = ""
    size: int = 0
    triples: int = 0
    attributes: int = 0
    skipped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class KGBuilder:
    """Mutable accumulator that readers write into.

    Readers map keys to ids with ``builder.entities.id(key)`` / ``builder.relations.id(key)`` (or in
    bulk through ``builder.entities.ids``, a dict that assigns new ids on lookup), then append
    triples with :meth:`add_triples`. Several sources may be read into one builder: they share
    vocabularies, so the same key from two files is one entity.

    Args:
        lang: preferred language for labels and descriptions (``None``: first seen wins).
    """

    def __init__(self, lang: str | None = "en") -> None:
        self.lang = lang
        self.entities = VocabularyBuilder(lang)
        self.relations = VocabularyBuilder(lang)
        self._h = array.array("q")
        self._r = array.array("q")
        self._t = array.array("q")
        self._w = array.array("f")
        self._has_weights = False
        self._split = array.array("b")
        self._split_names: list[str] = [NO_SPLIT]
        self.attributes: list[tuple[int, str, str, str, str]] = []
        self.sources: list[SourceRecord] = []
        self._names: dict[str, list[tuple[str, str, str]]] = {}

    # -- triples --------------------------------------------------------------------------
    @property
    def num_triples(self) -> int:
        return len(self._h)

    def _split_code(self, split: str) -> int:
        if split not in self._split_names:
            self._split_names.append(split)
        return self._split_names.index(split)

    def add_triples(
        self,
        heads: Iterable[int],
        relations: Iterable[int],
        tails: Iterable[int],
        weights: Iterable[float] | None = None,
        split: str = NO_SPLIT,
    ) -> int:
        """Append many triples given as three id sequences of equal length; returns how many."""
        n0 = len(self._h)
        for store, ids in ((self._h, heads), (self._r, relations), (self._t, tails)):
            if isinstance(ids, np.ndarray):
                store.frombytes(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
            else:
                store.extend(ids)
        n = len(self._h) - n0
        if len(self._r) != len(self._h) or len(self._t) != len(self._h):
            raise KemmError("add_triples: heads, relations and tails differ in length")
        if weights is not None and not self._has_weights:
            self._start_weights(upto=n0)
        if self._has_weights:
            if weights is None:
                self._w.extend([1.0] * n)
            else:
                self._w.extend(weights)
                if len(self._w) != len(self._h):
                    raise KemmError("add_triples: weights differ in length from the triples")
        self._split.extend([self._split_code(split)] * n)
        return n

    def _start_weights(self, upto: int) -> None:
        """Weights begin part-way: the ``upto`` triples added before had weight 1."""
        self._has_weights = True
        self._w.extend([1.0] * upto)

    # -- literals -------------------------------------------------------------------------
    def add_attribute(
        self, entity: int, predicate: str, value: str, datatype: str = "", lang: str = ""
    ) -> None:
        """Keep a literal-valued statement about an entity (it is not an entity itself)."""
        self.attributes.append((entity, predicate, value, datatype, lang))

    def add_name(self, key: str, kind: str, text: str, lang: str = "") -> None:
        """Name the entity *or relation* ``key`` (``kind``: ``label``, ``alias`` or ``description``).

        RDF states labels of properties and of resources alike, and the statement may come
        before the key is used: names are resolved in :meth:`build`, to the relation when ``key``
        is used as a predicate, to the entity when it is used as a node (both when both).
        """
        self._names.setdefault(key, []).append((kind, text, lang))

    def _resolve_names(self) -> None:
        for key, names in self._names.items():
            targets = []
            if key in self.relations.ids:
                targets.append(self.relations)
            if key in self.entities.ids or not targets:
                targets.append(self.entities)
            for vocab in targets:
                i = vocab.id(key)
                for kind, text, lang in names:
                    getattr(vocab, f"add_{kind}")(i, text, lang)
        self._names.clear()

    # -- freezing -------------------------------------------------------------------------
    def build(self, dedup: bool = True) -> KnowledgeGraph:
        """Freeze into a :class:`KnowledgeGraph`.

        Args:
            dedup: drop repeated ``(h, r, t)`` triples, keeping the first (and the largest weight
                when the graph is weighted). A triple given in two splits stays in the first.
        """
        self._resolve_names()
        n_ent = len(self.entities)
        if n_ent >= 2**31 or len(self.relations) >= 2**31:
            raise KemmError("more than 2^31 entities or relations do not fit the int32 triple store")
        triples = np.empty((len(self._h), 3), dtype=np.int32)  # (N, 3): head, relation, tail
        triples[:, 0] = np.frombuffer(self._h, dtype=np.int64)
        triples[:, 1] = np.frombuffer(self._r, dtype=np.int64)
        triples[:, 2] = np.frombuffer(self._t, dtype=np.int64)
        weights = np.frombuffer(self._w, dtype=np.float32).copy() if self._has_weights else None
        split = np.frombuffer(self._split, dtype=np.int8)
        if dedup and len(triples):
            order, weights = _dedup(triples, weights, n_ent, len(self.relations))
            dropped = len(triples) - len(order)
            if dropped:
                logger.info("dropped %d duplicate triples", dropped)
            triples = triples[order]
            split = split[order]
        splits = {
            name: np.flatnonzero(split == code).astype(np.int64)
            for code, name in enumerate(self._split_names)
            if name != NO_SPLIT and np.any(split == code)
        }
        return KnowledgeGraph(
            entities=self.entities.build(),
            relations=self.relations.build(),
            triples=triples,
            weights=weights,
            attributes=Attributes.from_rows(self.attributes),
            splits=splits,
            meta={"sources": [vars(s) for s in self.sources]},
        )


def _dedup(
    triples: np.ndarray, weights: np.ndarray | None, n_ent: int, n_rel: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions of the first occurrence of each distinct triple (in input order), and their weights
    (the largest weight among the copies)."""
    keys: np.ndarray
    if n_ent * n_ent * max(n_rel, 1) < 2**63:  # one int64 key per triple sorts much faster than bytes
        t = triples.astype(np.int64)
        keys = (t[:, 0] * max(n_rel, 1) + t[:, 1]) * n_ent + t[:, 2]
    else:
        keys = np.ascontiguousarray(triples).view(np.dtype((np.void, 12))).ravel()
    if weights is None:
        _, first = np.unique(keys, return_index=True)
        return np.sort(first), None
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    best = np.full(len(first), -np.inf, dtype=np.float32)
    np.maximum.at(best, inverse.ravel(), weights)
    order = np.sort(first)
    return order, best[inverse.ravel()[order]]
