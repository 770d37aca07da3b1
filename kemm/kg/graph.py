"""The knowledge graph every other part of kemm reads from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kemm.errors import KemmError
from kemm.kg.vocab import Vocabulary

if TYPE_CHECKING:
    import networkx as nx
    from torch_geometric.data import Data


@dataclass
class Attributes:
    """Literal-valued statements (``entity --predicate--> "value"``), kept apart from the graph.

    Column lists of equal length; ``datatype`` is an IRI or "", ``lang`` a language tag or "".
    """

    entity: list[int] = field(default_factory=list)
    predicate: list[str] = field(default_factory=list)
    value: list[str] = field(default_factory=list)
    datatype: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: list[tuple[int, str, str, str, str]]) -> Attributes:
        if not rows:
            return cls()
        e, p, v, d, lang = (list(col) for col in zip(*rows))
        return cls(e, p, v, d, lang)

    def __len__(self) -> int:
        return len(self.entity)

    def rows(self):
        return zip(self.entity, self.predicate, self.value, self.datatype, self.lang)

    def of(self, entity: int) -> list[tuple[str, str, str, str]]:
        return [(p, v, d, lang) for e, p, v, d, lang in self.rows() if e == entity]


@dataclass(frozen=True)
class CSR:
    """Compressed sparse row adjacency: the out-edges of node ``u`` are ``indptr[u]:indptr[u+1]``.

    Attributes:
        indptr: shape ``(num_nodes + 1,)``, int64.
        neighbor: shape ``(num_edges,)``, the other end of each edge.
        relation: shape ``(num_edges,)``, the relation id of each edge.
        edge: shape ``(num_edges,)``, index of the edge's triple in ``KnowledgeGraph.triples``.
    """

    indptr: np.ndarray
    neighbor: np.ndarray
    relation: np.ndarray
    edge: np.ndarray

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, u: int) -> slice:
        return slice(int(self.indptr[u]), int(self.indptr[u + 1]))


@dataclass
class KnowledgeGraph:
    """Entity and relation vocabularies plus integer triples.

    Attributes:
        entities: entity vocabulary (keys, labels, aliases, descriptions).
        relations: relation vocabulary.
        triples: shape ``(num_triples, 3)``, int32 columns head, relation, tail (memory-mapped
            when loaded from disk).
        weights: shape ``(num_triples,)`` float32 edge weights, or ``None`` when unweighted.
        attributes: literal-valued statements about entities.
        splits: split name -> int64 indices into ``triples`` (``train``/``valid``/``test``).
        meta: provenance (sources, checksums, counts) as stored in ``meta.json``.
        path: directory it was loaded from, if any.
    """

    entities: Vocabulary
    relations: Vocabulary
    triples: np.ndarray
    weights: np.ndarray | None = None
    attributes: Attributes = field(default_factory=Attributes)
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.triples.ndim != 2 or self.triples.shape[1] != 3:
            raise KemmError(f"triples must have shape (N, 3), got {self.triples.shape}")

    # -- sizes ----------------------------------------------------------------------------
    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_triples(self) -> int:
        return int(self.triples.shape[0])

    def __repr__(self) -> str:
        splits = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return (
            f"KnowledgeGraph(num_entities={self.num_entities}, num_relations={self.num_relations}, "
            f"num_triples={self.num_triples}{', ' + splits if splits else ''})"
        )

    # -- lookup ---------------------------------------------------------------------------
    def entity_id(self, name: str) -> int:
        """Id of an entity given by key, label or alias; an integer string is taken as an id.

        Raises a :class:`KemmError` when the name is unknown or ambiguous.
        """
        return _resolve(self.entities, name, "entity")

    def relation_id(self, name: str) -> int:
        return _resolve(self.relations, name, "relation")

    def entity_label(self, i: int) -> str:
        return self.entities.label(i)

    def split(self, name: str) -> np.ndarray:
        """Triples of split ``name``, shape ``(n, 3)``."""
        if name not in self.splits:
            have = ", ".join(self.splits) or "none; run `kemm kg split`"
            raise KemmError(f"the KG has no {name!r} split (splits: {have})")
        return np.asarray(self.triples[self.splits[name]])

    # -- structure ------------------------------------------------------------------------
    def csr(self, direction: Literal["out", "in"] = "out") -> CSR:
        """Adjacency in CSR form (``out``: rows are heads; ``in``: rows are tails). Cached."""
        return self._csr_out if direction == "out" else self._csr_in

    @cached_property
    def _csr_out(self) -> CSR:
        return _build_csr(self.triples, self.num_entities, src=0, dst=2)

    @cached_property
    def _csr_in(self) -> CSR:
        return _build_csr(self.triples, self.num_entities, src=2, dst=0)

    def neighbors(
        self, entity: int, direction: Literal["out", "in", "both"] = "both"
    ) -> list[tuple[str, int, int]]:
        """Edges at ``entity`` as ``(direction, relation_id, other_entity_id)``; direction "out"/"in"."""
        out: list[tuple[str, int, int]] = []
        for d in ("out", "in"):
            if direction in (d, "both"):
                c = self.csr(d)  # type: ignore[arg-type]
                s = c.row(entity)
                out.extend((d, int(r), int(v)) for r, v in zip(c.relation[s], c.neighbor[s]))
        return out

    # -- conversions ----------------------------------------------------------------------
    def to_networkx(self, labels: bool = True) -> nx.MultiDiGraph:
        """A ``networkx.MultiDiGraph``: nodes are entity ids (with ``key``/``label`` attributes),
        edges carry ``relation`` (id), ``key`` = relation key, and ``weight`` when weighted."""
        import networkx as nx

        g = nx.MultiDiGraph()
        if labels:
            g.add_nodes_from(
                (i, {"key": k, "label": self.entities.label(i)}) for i, k in enumerate(self.entities.keys)
            )
        else:
            g.add_nodes_from(range(self.num_entities))
        rel_keys = self.relations.keys
        t = np.asarray(self.triples)
        if self.weights is None:
            g.add_edges_from((int(h), int(tl), rel_keys[r], {"relation": int(r)}) for h, r, tl in t)
        else:
            g.add_edges_from(
                (int(h), int(tl), rel_keys[r], {"relation": int(r), "weight": float(w)})
                for (h, r, tl), w in zip(t, self.weights)
            )
        return g

    def to_pyg(self, split: str | None = None, add_inverse: bool = False) -> Data:
        """A ``torch_geometric.data.Data`` with ``edge_index`` (2, E), ``edge_type`` (E,), ``num_nodes``.

        Args:
            split: only the triples of this split (e.g. ``"train"`` for message passing without
                leaking evaluation edges); ``None`` for all triples.
            add_inverse: append reversed edges with relation ids shifted by ``num_relations``
                (the usual R-GCN/CompGCN convention).
        """
        import torch
        from torch_geometric.data import Data

        t = self.split(split) if split is not None else np.asarray(self.triples)
        # one int64 copy of the columns PyG needs; the int32 store itself is not copied
        edge_index = torch.from_numpy(t[:, [0, 2]].T.astype(np.int64))  # (2, E)
        edge_type = torch.from_numpy(t[:, 1].astype(np.int64))  # (E,)
        if add_inverse:
            edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)  # (2, 2E)
            edge_type = torch.cat([edge_type, edge_type + self.num_relations])  # (2E,)
        data = Data(edge_index=edge_index, edge_type=edge_type, num_nodes=self.num_entities)
        if self.weights is not None and split is None:
            w = torch.from_numpy(np.asarray(self.weights, dtype=np.float32).copy())
            data.edge_weight = torch.cat([w, w]) if add_inverse else w
        return data

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, skipped: list[tuple[str, int | None, str, str]] | None = None) -> Path:
        """Write the graph as an inspectable directory, atomically (see :mod:`kemm.kg.store`)."""
        from kemm.kg.store import save_kg

        return save_kg(self, path, skipped=skipped)

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True, verify: bool = False) -> KnowledgeGraph:
        """Load a directory written by :meth:`save`; triples are memory-mapped unless ``mmap=False``."""
        from kemm.kg.store import load_kg

        return load_kg(path, mmap=mmap, verify=verify)


def _build_csr(triples: np.ndarray, n: int, src: int, dst: int) -> CSR:
    t = np.asarray(triples)
    order = np.argsort(t[:, src], kind="stable")
    counts = np.bincount(t[:, src], minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return CSR(indptr, t[order, dst].astype(np.int64), t[order, 1].astype(np.int64), order.astype(np.int64))


def _resolve(vocab: Vocabulary, name: str, kind: str) -> int:
    if name in vocab.index:
        return vocab.index[name]
    if name.isdigit() and int(name) < len(vocab):
        return int(name)
    ids = vocab.lookup(name)
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise KemmError(f"unknown {kind} {name!r}: no key, label or alias matches")
    shown = ", ".join(f"{vocab.keys[i]} ({vocab.label(i)})" for i in ids[:5])
    raise KemmError(f"{kind} {name!r} is ambiguous: {len(ids)} matches, e.g. {shown}; give the key")
