import pytest
import torch

from kemm.embeddings import build_model
from tests.embeddings.cases import ModelTestCase


class TestTransE(ModelTestCase):
    name = "transe"


class TestTransEL2(ModelTestCase):
    name = "transe"
    kwargs = {"dim": 8, "p": 2, "normalize_entities": False}


class TestTransESparse(ModelTestCase):
    name = "transe"
    kwargs = {"dim": 8, "sparse": True}


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("sparse", [True, False])
def test_hand_written_backward_matches_autograd(p, normalize, sparse):
    torch.manual_seed(0)
    model = build_model("transe", 12, 3, dim=6, p=p, normalize_entities=normalize, sparse=sparse)
    h, r, t = torch.tensor([0, 1, 1, 5]), torch.tensor([0, 2, 2, 1]), torch.tensor([3, 3, 3, 0])
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    expected = model.interaction(model._entity_rows(h), model.relation(r), model._entity_rows(t))
    (expected * w).sum().backward()
    ref = [p.grad.to_dense().clone() for p in model.parameters()]
    model.zero_grad()
    score = model.score_hrt(h, r, t)
    (score * w).sum().backward()
    torch.testing.assert_close(score, expected.detach())
    for p_, g in zip(model.parameters(), ref):
        assert p_.grad.is_sparse == sparse
        torch.testing.assert_close(p_.grad.to_dense(), g)
