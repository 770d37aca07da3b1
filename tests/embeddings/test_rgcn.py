import torch

from kemm.embeddings import build_model
from kemm.embeddings.sampling import NeighborSampler
from tests.embeddings.cases import EDGE_TYPES, EDGES, ModelTestCase


class TestRGCN(ModelTestCase):
    name = "rgcn"
    kwargs = {"dim": 8, "num_bases": 2}


class TestRGCNLoopConv(ModelTestCase):
    name = "rgcn"
    kwargs = {"dim": 8, "num_bases": 2, "conv": "rgcn"}


class TestRGCNBlockFast(ModelTestCase):
    name = "rgcn"
    kwargs = {"dim": 8, "decomposition": "block", "num_bases": 2, "conv": "fast", "decoder": "transe"}


def test_sampled_scores_match_full_graph_when_fanout_covers_everything():
    torch.manual_seed(0)
    model = TestRGCN().make().eval()
    sampler = model.make_sampler([100, 100], torch.Generator().manual_seed(0))
    h, r, t = torch.tensor([0, 3]), torch.tensor([0, 1]), torch.tensor([1, 7])
    with torch.no_grad():
        full = model.score_hrt(h, r, t)
        sampled = model.score_hrt_sampled(h, r, t, sampler)
    torch.testing.assert_close(sampled, full, atol=1e-5, rtol=1e-5)


def test_sampler_limits_fanout():
    ei = torch.cat([EDGES, EDGES.flip(0)], 1)
    s = NeighborSampler(
        ei, torch.cat([EDGE_TYPES, EDGE_TYPES + 3]), 12, [1], torch.Generator().manual_seed(0)
    )
    sub = s.sample(torch.tensor([5]))
    assert sub.edge_index.shape[1] == 1 and 5 in sub.nodes.tolist() and len(sub.nodes) == 2


def test_vectorized_conv_equals_pyg_rgcnconv_on_the_same_weights():
    from torch_geometric.nn import RGCNConv

    from kemm.embeddings.rgcn_conv import BasisRGCNConv

    torch.manual_seed(0)
    for n, r, e in ((12, 5, 60), (40, 5, 20)):  # both paths: per-relation table (R*N <= B*E) and bases
        x = torch.randn(n, 8)
        ei = torch.randint(0, n, (2, e))
        et = torch.randint(0, r, (e,))
        ours = BasisRGCNConv(8, 6, r, num_bases=3)
        ref = RGCNConv(8, 6, r, num_bases=3)
        ref.load_state_dict(ours.state_dict())
        torch.testing.assert_close(ours(x, ei, et), ref(x, ei, et), atol=1e-5, rtol=1e-5)
        ours(x, ei, et).sum().backward()  # gradients reach every parameter
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ours.parameters())


def test_every_rgcn_conv_has_a_model_case():
    from kemm.embeddings.rgcn import RGCN_CONVS
    from tests.meta import assert_every_part_tested

    cases = (TestRGCN, TestRGCNLoopConv, TestRGCNBlockFast)
    assert_every_part_tested(RGCN_CONVS, {c.kwargs.get("conv", "vectorized") for c in cases})


def test_vectorized_conv_refuses_block_decomposition():
    import pytest

    from kemm.errors import KemmError

    with pytest.raises(KemmError, match="basis decomposition only"):
        build_model("rgcn", 12, 3, graph=(EDGES, EDGE_TYPES), dim=8, decomposition="block", conv="vectorized")
