import torch

from kemm.embeddings.losses import build_loss
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch
from kemm.pretraining.objectives.link_prediction import RotatEDecoder, build_decoder, hold_out_edges
from tests.pretraining.cases import ObjectiveTestCase


class TestLinkPrediction(ObjectiveTestCase):
    name = "link-prediction"
    options = {"probability": 0.6}


class TestLinkPredictionRotatE(ObjectiveTestCase):
    name = "link-prediction"
    options = {"probability": 0.6, "decoder": "rotate", "margin": 6.0}


def test_loss_lower_for_true_edges():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 16, generator=g)
    r = torch.ones(1, 16)
    loss = build_loss("nssa", margin=1.0)
    for name in ("distmult", "transe", "rotate"):
        dec = build_decoder(name)
        rr = torch.zeros(1, 8) if name == "rotate" else (torch.zeros(1, 16) if name == "transe" else r)
        h = x[:4]
        true_t = h.clone()  # r = identity (DistMult: ones, TransE: zeros, RotatE: phase 0)
        rand_t = x[4:8]
        negs = x[None, 6:10].expand(4, 4, 16)
        pos_true = dec.score(h, rr.expand(4, -1), true_t)
        pos_rand = dec.score(h, rr.expand(4, -1), rand_t)
        neg = dec.score(h[:, None], rr[:, None].expand(4, 1, -1), negs)
        assert loss.slcwa(pos_true, neg) < loss.slcwa(pos_rand, neg), name


def test_rotate_is_a_rotation():
    h = torch.tensor([[1.0, 0.0]])  # 1 + 0i
    t = torch.tensor([[0.0, 1.0]])  # i
    assert abs(float(RotatEDecoder().score(h, torch.tensor([[torch.pi / 2]]), t))) < 1e-4


def test_held_out_edges_leave_the_graph_and_negatives_stay_in_their_subgraph():
    exs = [
        ExampleKnowledge(
            nodes=[0, 1, 2, 3], node_types=["question"] * 4, edges=[(0, 0, 1), (1, 1, 2), (2, 0, 3)]
        ),
        ExampleKnowledge(nodes=[4, 5], node_types=["other", "other"], edges=[(0, 1, 1)]),
    ]
    graph = KnowledgeBatch.collate(exs).graph
    kept, edges, negs = hold_out_edges(graph, 1.0, 5, torch.Generator().manual_seed(0))
    assert len(edges) == 4 and (kept.edge_type >= 0).sum() == 0  # context edges stay
    assert (kept.edge_type == -1).sum() == (graph.edge_type == -1).sum()
    ex = graph.batch[edges[:, 0]]
    lo, hi = graph.ptr[ex], graph.ptr[ex + 1] - 1  # the context node (last) is never a negative
    assert ((negs >= lo[:, None]) & (negs < hi[:, None])).all()
