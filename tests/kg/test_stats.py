import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kemm.kg.stats import compute_stats, connected_components


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 60), edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80))
def test_components_match_networkx(n, edges):
    edges = [(a % n, b % n) for a, b in edges]
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    labels = connected_components(n, src, dst)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    expected = {min(c): sorted(c) for c in nx.connected_components(g)}
    got: dict[int, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        got.setdefault(lab, []).append(i)
    assert got == expected


def test_stats_of_tiny_kg(tiny_kg):
    s = compute_stats(tiny_kg)
    assert (s.num_entities, s.num_relations, s.num_triples) == (15, 6, 15)
    assert s.num_components == 1 and s.largest_component == 15 and s.isolated_entities == 0
    assert dict(s.relation_counts)["AtLocation"] == 3
    assert sum(n for _, n in s.degree_histogram) == 15
    assert s.top_entities[0] == ("knife", 5)
