"""Subgraph extraction on hand-made graphs with exact expected nodes and edges."""

import numpy as np
import pytest

from kemm.errors import KemmError
from kemm.kg import KnowledgeGraph, Vocabulary
from kemm.kg.subgraph import embedding_relevance, extract_subgraph, khop_nodes, subgraph_to_networkx


def chain_kg(edges, n):
    """A KG with entities e0..e{n-1} and one relation, from (head, tail) pairs."""
    ents = Vocabulary(
        keys=[f"e{i}" for i in range(n)],
        labels=[f"e{i}" for i in range(n)],
        label_langs=[""] * n,
        descriptions=[""] * n,
    )
    rels = Vocabulary(keys=["r0", "r1"], labels=["r0", "r1"], label_langs=[""] * 2, descriptions=[""] * 2)
    t = np.array([(h, i % 2, tl) for i, (h, tl) in enumerate(edges)], dtype=np.int32).reshape(-1, 3)
    return KnowledgeGraph(ents, rels, t)


@pytest.fixture
def path_kg():
    # 0 -> 1 -> 2 -> 3 -> 4, plus 5 -> 1 (an in-edge) and an isolated node 6
    return chain_kg([(0, 1), (1, 2), (2, 3), (3, 4), (5, 1)], 7)


def test_one_and_two_hops_both_directions(path_kg):
    d1 = extract_subgraph(path_kg, [1], hops=1)
    assert sorted(d1.node_ids.tolist()) == [0, 1, 2, 5]
    d2 = extract_subgraph(path_kg, [1], hops=2)
    assert sorted(d2.node_ids.tolist()) == [0, 1, 2, 3, 5]
    # induced edges: every KG edge between kept nodes, with local indices and relation ids
    ids = d2.node_ids.tolist()
    edges = {(ids[s], ids[t], r) for (s, t), r in zip(d2.edge_index.t().tolist(), d2.edge_type.tolist())}
    assert edges == {(0, 1, 0), (1, 2, 1), (2, 3, 0), (5, 1, 0)}
    assert d2.edge_index.shape == (2, 4) and d2.edge_ids.shape == (4,)


def test_seed_and_answer_masks(path_kg):
    d = extract_subgraph(path_kg, [0], answer_seeds=[4], hops=1)
    ids = d.node_ids.tolist()
    assert ids[:2] == [0, 4]  # seeds first
    assert d.seed_mask.tolist() == [i in (0, 4) for i in ids]
    assert d.answer_mask.tolist() == [i == 4 for i in ids]
    assert "answer_mask" not in extract_subgraph(path_kg, [0])


def test_node_cap_keeps_seeds_and_prunes_by_relevance():
    star = chain_kg([(0, i) for i in range(1, 9)], 9)  # a hub with 8 leaves
    d = extract_subgraph(star, [0], hops=1, max_nodes=4)
    assert d.num_nodes == 4 and d.node_ids[0] == 0
    emb = np.zeros((9, 2), dtype=np.float32)
    emb[[7, 8, 3], 0] = [3.0, 2.0, 1.0]
    d = extract_subgraph(
        star, [0], hops=1, max_nodes=4, relevance=embedding_relevance(emb, np.array([1.0, 0.0]))
    )
    assert d.node_ids.tolist() == [0, 7, 8, 3]
    assert d.edge_index.shape[1] == 3
    with pytest.raises(KemmError, match="relevance returned shape"):
        extract_subgraph(star, [0], hops=1, max_nodes=2, relevance=lambda ids: np.zeros(1))


def test_structural_relevance_prefers_nodes_reached_by_more_seeds():
    # 3 is a neighbour of both seeds 0 and 1; 2 and 4 of one seed each
    kg = chain_kg([(0, 2), (0, 3), (1, 3), (1, 4)], 5)
    d = extract_subgraph(kg, [0, 1], hops=1, max_nodes=3)
    assert d.node_ids.tolist() == [0, 1, 3]
    nodes, score = khop_nodes(kg, np.array([0, 1]), hops=1)
    assert dict(zip(nodes.tolist(), score.tolist()))[3] > dict(zip(nodes.tolist(), score.tolist()))[2]


def test_isolated_seed_and_bad_arguments(path_kg):
    d = extract_subgraph(path_kg, [6], hops=2)
    assert d.node_ids.tolist() == [6] and d.edge_index.shape == (2, 0)
    with pytest.raises(KemmError, match="seed ids"):
        extract_subgraph(path_kg, [70])
    with pytest.raises(KemmError, match="hops"):
        extract_subgraph(path_kg, [0], hops=0)


def test_to_networkx_for_inspection(tiny_kg):
    apple = tiny_kg.entity_id("apple")
    d = extract_subgraph(tiny_kg, [apple], hops=1)
    g = subgraph_to_networkx(d, tiny_kg)
    assert g.number_of_nodes() == d.num_nodes and g.number_of_edges() == d.edge_index.shape[1]
    assert g.nodes[apple]["label"] == "apple" and g.nodes[apple]["seed"]
    assert {g.nodes[v]["label"] for v in g.successors(apple)} >= {"fruit", "kitchen"}
