"""Summary statistics of a knowledge graph: counts, relation histogram, degrees, components."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from kemm.kg.graph import KnowledgeGraph


def connected_components(num_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Weakly connected component label of every node (the smallest node id in its component).

    Vectorised hooking and pointer jumping: each round hooks the larger root of every edge under
    the smaller one, then compresses paths; no Python loop over edges.
    """
    parent = np.arange(num_nodes, dtype=np.int64)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    while True:
        ps, pd = parent[src], parent[dst]
        changed = ps != pd
        if not changed.any():
            break
        lo = np.minimum(ps[changed], pd[changed])
        hi = np.maximum(ps[changed], pd[changed])
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


@dataclass
class KGStats:
    num_entities: int
    num_relations: int
    num_triples: int
    num_attributes: int
    num_aliases: int
    splits: dict[str, int]
    relation_counts: list[tuple[str, int]]  # (relation label, triples), most frequent first
    degree: dict[str, float]  # min / median / mean / p99 / max of total degree
    degree_histogram: list[tuple[str, int]]  # ("0", n), ("1", n), ("2-3", n), ("4-7", n), ...
    isolated_entities: int
    num_components: int
    largest_component: int
    top_entities: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def compute_stats(kg: KnowledgeGraph, top: int = 10) -> KGStats:
    t = np.asarray(kg.triples)
    n = kg.num_entities
    rel_counts = (
        np.bincount(t[:, 1], minlength=kg.num_relations) if len(t) else np.zeros(kg.num_relations, int)
    )
    order = np.argsort(-rel_counts, kind="stable")
    deg = (
        (np.bincount(t[:, 0], minlength=n) + np.bincount(t[:, 2], minlength=n))
        if len(t)
        else np.zeros(n, int)
    )
    labels = connected_components(n, t[:, 0], t[:, 2]) if n else np.zeros(0, np.int64)
    comp_sizes = np.bincount(labels) if n else np.zeros(0, int)
    comp_sizes = comp_sizes[comp_sizes > 0]
    hist: list[tuple[str, int]] = [("0", int((deg == 0).sum()))]
    lo = 1
    while n and lo <= deg.max():
        hi = lo * 2 - 1
        hist.append((str(lo) if lo == hi else f"{lo}-{hi}", int(((deg >= lo) & (deg <= hi)).sum())))
        lo *= 2
    top_idx = np.argsort(-deg, kind="stable")[:top]
    return KGStats(
        num_entities=n,
        num_relations=kg.num_relations,
        num_triples=kg.num_triples,
        num_attributes=len(kg.attributes),
        num_aliases=len(kg.entities.aliases),
        splits={k: int(len(v)) for k, v in kg.splits.items()},
        relation_counts=[(kg.relations.label(int(i)), int(rel_counts[i])) for i in order],
        degree={
            "min": float(deg.min()) if n else 0.0,
            "median": float(np.median(deg)) if n else 0.0,
            "mean": float(deg.mean()) if n else 0.0,
            "p99": float(np.percentile(deg, 99)) if n else 0.0,
            "max": float(deg.max()) if n else 0.0,
        },
        degree_histogram=hist,
        isolated_entities=int((deg == 0).sum()),
        num_components=int(len(comp_sizes)),
        largest_component=int(comp_sizes.max()) if len(comp_sizes) else 0,
        top_entities=[(kg.entity_label(int(i)), int(deg[i])) for i in top_idx],
    )
