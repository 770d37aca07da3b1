"""Question subgraphs: the k-hop neighbourhood of seed entities, capped and pruned by relevance.

As in QA-GNN, the seeds are the entities linked in a question and its answer choice (and in its
image); the subgraph holds the seeds, their neighbours up to ``hops`` away (either edge direction),
at most ``max_nodes`` nodes (200 by default), and every KG edge between kept nodes. When the
neighbourhood is larger than the cap, the kept non-seed nodes are those with the highest relevance:
a callable scoring node ids against the question (encoder similarity of labels, a KG-embedding
score, ...) or, without one, the number of seed edges reaching the node (structural relevance).
Everything is read from the precomputed CSR adjacency (``kg.csr``) with vectorised gathers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kemm.errors import KemmError
from kemm.kg.graph import CSR, KnowledgeGraph

#: ids -> shape ``(len(ids),)`` relevance scores (higher is more relevant).
Relevance = Callable[[np.ndarray], np.ndarray]


def _gather(csr: CSR, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge positions of all CSR rows in ``nodes``, and the row (node) each comes from."""
    starts = csr.indptr[nodes]
    counts = csr.indptr[nodes + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # positions: for each row, starts[r] + 0..counts[r]-1, built without a Python loop
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)  # (E,)
    pos = offsets + np.arange(total, dtype=np.int64)  # (E,)
    return pos, np.repeat(nodes, counts)


def _neighbours(kg: KnowledgeGraph, nodes: np.ndarray) -> np.ndarray:
    """Neighbour ids (with repetition, one per edge) of ``nodes`` in both directions."""
    parts = []
    for d in ("out", "in"):
        csr = kg.csr(d)  # type: ignore[arg-type]
        pos, _ = _gather(csr, nodes)
        parts.append(csr.neighbor[pos])
    return np.concatenate(parts)


def khop_nodes(
    kg: KnowledgeGraph, seeds: np.ndarray, hops: int = 2, max_frontier: int | None = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes within ``hops`` of ``seeds`` and their structural score (edges from the previous hop).

    Returns ``(nodes, score)``, both shape ``(n,)``; seeds come first. ``max_frontier`` bounds the
    work on hubs: a hop whose frontier is larger keeps its ``max_frontier`` best-connected nodes.
    """
    seen = np.unique(seeds.astype(np.int64))
    visited = np.zeros(kg.num_entities, dtype=bool)  # one flag per entity: O(1) membership, no sorting
    visited[seen] = True
    nodes = [seen]
    scores = [np.full(len(seen), np.inf, dtype=np.float64)]
    frontier = seen
    for _ in range(hops):
        if not len(frontier):
            break
        nb = _neighbours(kg, frontier)
        nb = nb[~visited[nb]]
        uniq, cnt = np.unique(nb, return_counts=True)
        if max_frontier is not None and len(uniq) > max_frontier:
            top = np.argpartition(-cnt, max_frontier)[:max_frontier]
            uniq, cnt = uniq[top], cnt[top]
        nodes.append(uniq)
        scores.append(cnt.astype(np.float64) / (1 + len(scores)))  # nearer hops weigh more
        visited[uniq] = True
        frontier = uniq
    return np.concatenate(nodes), np.concatenate(scores)


def extract_subgraph(
    kg: KnowledgeGraph,
    seeds: Sequence[int] | np.ndarray,
    answer_seeds: Sequence[int] | np.ndarray | None = None,
    hops: int = 2,
    max_nodes: int = 200,
    relevance: Relevance | None = None,
):
    """The pruned ``hops``-hop subgraph around the seeds, as a ``torch_geometric.data.Data``.

    Args:
        kg: the knowledge graph.
        seeds: question entity ids (and image object entities).
        answer_seeds: answer-choice entity ids (also seeds; marked in ``answer_mask``).
        hops: 1 or 2 (any positive number works; QA-GNN uses 2).
        max_nodes: node cap; seeds are always kept (even past the cap).
        relevance: scores non-seed candidate nodes; ``None`` ranks by structural connectivity.

    Returns:
        ``Data`` with ``node_ids`` (n,) global entity ids (seeds first), ``edge_index`` (2, E) local
        indices, ``edge_type`` (E,) relation ids, ``edge_ids`` (E,) rows of ``kg.triples``,
        ``seed_mask`` (n,) bool, ``answer_mask`` (n,) bool when ``answer_seeds`` is given, ``num_nodes``.
    """
    import torch
    from torch_geometric.data import Data

    if hops < 1:
        raise KemmError(f"hops must be at least 1, got {hops}")
    if max_nodes < 1:
        raise KemmError(f"max_nodes must be at least 1, got {max_nodes}")
    q = np.asarray(list(seeds), dtype=np.int64)
    a = np.asarray(list(answer_seeds) if answer_seeds is not None else [], dtype=np.int64)
    all_seeds = np.unique(np.concatenate([q, a]))
    if len(all_seeds) and (all_seeds.min() < 0 or all_seeds.max() >= kg.num_entities):
        raise KemmError(f"seed ids must lie in [0, {kg.num_entities}), got {all_seeds.tolist()[:10]}")
    nodes, score = khop_nodes(kg, all_seeds, hops=hops)
    n_seed = len(all_seeds)
    rest, rest_score = nodes[n_seed:], score[n_seed:]
    budget = max(max_nodes - n_seed, 0)
    if len(rest) > budget:
        if relevance is not None:
            rest_score = np.asarray(relevance(rest), dtype=np.float64)
            if rest_score.shape != rest.shape:
                raise KemmError(f"relevance returned shape {rest_score.shape}, expected {rest.shape}")
        keep = np.argpartition(-rest_score, budget - 1)[:budget] if budget else np.zeros(0, dtype=np.int64)
        keep = keep[np.argsort(-rest_score[keep], kind="stable")]
        rest = rest[keep]
    node_ids = np.concatenate([all_seeds, rest])  # (n,)
    # induced edges: out-edges of kept nodes whose other end is kept, via a global id -> local index map
    local = np.full(kg.num_entities, -1, dtype=np.int64)
    local[node_ids] = np.arange(len(node_ids))
    csr = kg.csr("out")
    pos, src = _gather(csr, node_ids)
    dst_local = local[csr.neighbor[pos]]
    inside = dst_local >= 0
    src_local = local[src[inside]]
    dst_local = dst_local[inside]
    edge_index = torch.from_numpy(np.stack([src_local, dst_local]).astype(np.int64))  # (2, E)
    data = Data(edge_index=edge_index, num_nodes=len(node_ids))
    data.edge_type = torch.from_numpy(csr.relation[pos][inside].astype(np.int64))  # (E,)
    data.edge_ids = torch.from_numpy(csr.edge[pos][inside].astype(np.int64))  # (E,)
    data.node_ids = torch.from_numpy(node_ids)
    seed_mask = np.zeros(len(node_ids), dtype=bool)
    seed_mask[:n_seed] = True  # seeds come first
    data.seed_mask = torch.from_numpy(seed_mask)
    if answer_seeds is not None:
        answer_mask = np.zeros(len(node_ids), dtype=bool)
        answer_mask[local[a]] = True  # answer seeds are seeds, always kept
        data.answer_mask = torch.from_numpy(answer_mask)
    return data


def subgraph_to_networkx(data, kg: KnowledgeGraph | None = None):
    """A ``networkx.MultiDiGraph`` of a subgraph for inspection: nodes are global entity ids with
    ``seed``/``answer`` flags (and ``key``/``label`` given the KG), edges carry ``relation``."""
    import networkx as nx

    g = nx.MultiDiGraph()
    ids = data.node_ids.tolist()
    seed = data.seed_mask.tolist()
    answer = data.answer_mask.tolist() if "answer_mask" in data else [False] * len(ids)
    for i, e in enumerate(ids):
        attrs = {"seed": seed[i], "answer": answer[i]}
        if kg is not None:
            attrs.update(key=kg.entities.keys[e], label=kg.entity_label(e))
        g.add_node(e, **attrs)
    for (s, t), r in zip(data.edge_index.t().tolist(), data.edge_type.tolist()):
        rel = kg.relations.keys[r] if kg is not None else r
        g.add_edge(ids[s], ids[t], key=rel, relation=r)
    return g


def label_relevance(kg: KnowledgeGraph, encoder, question: str) -> Relevance:
    """Relevance as the cosine between the encoded question and each node's encoded label."""
    q = encoder.encode([question])[0]  # (D,)

    def score(ids: np.ndarray) -> np.ndarray:
        vecs = encoder.encode([kg.entity_label(int(i)) for i in ids])  # (n, D)
        return vecs @ q

    return score


def embedding_relevance(node_embeddings: np.ndarray, query: np.ndarray) -> Relevance:
    """Relevance as ``node_embeddings[ids] @ query`` (KG embeddings, or precomputed label vectors)."""

    def score(ids: np.ndarray) -> np.ndarray:
        return np.asarray(node_embeddings[ids] @ query)

    return score
