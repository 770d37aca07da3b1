import networkx as nx
import numpy as np
import pytest
import torch

from kemm.errors import KemmError


def test_to_networkx(tiny_kg):
    g = tiny_kg.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert g.number_of_nodes() == tiny_kg.num_entities and g.number_of_edges() == tiny_kg.num_triples
    knife = tiny_kg.entity_id("knife")
    assert g.nodes[knife]["label"] == "knife"
    kitchen = tiny_kg.entity_id("kitchen")
    assert "http://example.org/rel/AtLocation" in g[knife][kitchen]


def test_to_pyg(tiny_kg):
    data = tiny_kg.to_pyg()
    assert data.edge_index.shape == (2, 15) and data.edge_index.dtype == torch.long
    assert data.edge_type.shape == (15,) and data.num_nodes == 15
    np.testing.assert_array_equal(data.edge_index[0].numpy(), tiny_kg.triples[:, 0])
    inv = tiny_kg.to_pyg(add_inverse=True)
    assert inv.edge_index.shape == (2, 30)
    assert int(inv.edge_type.max()) == int(data.edge_type.max()) + tiny_kg.num_relations


def test_csr_and_neighbors(tiny_kg):
    knife = tiny_kg.entity_id("knife")
    out = tiny_kg.neighbors(knife, "out")
    assert {tiny_kg.entity_label(v) for _, _, v in out} == {
        "tool",
        "cutting",
        "metal",
        "kitchen",
        "wooden handle",
    }
    inc = tiny_kg.neighbors(tiny_kg.entity_id("kitchen"), "in")
    assert {tiny_kg.entity_label(v) for _, _, v in inc} == {"apple", "banana", "knife"}
    csr = tiny_kg.csr("out")
    assert csr.degree().sum() == tiny_kg.num_triples
    for u in range(tiny_kg.num_entities):  # every CSR edge is a real triple of u
        for e in csr.edge[csr.row(u)]:
            assert tiny_kg.triples[e, 0] == u


def test_lookup_by_key_label_alias(tiny_kg):
    knife = tiny_kg.entity_id("http://example.org/kg/knife")
    assert tiny_kg.entity_id("Knife") == knife
    assert tiny_kg.entity_id("knives") == knife
    with pytest.raises(KemmError, match="unknown entity"):
        tiny_kg.entity_id("spoon")
