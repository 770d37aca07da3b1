import pytest
import torch

from kemm.embeddings.compgcn import compose
from tests.embeddings.cases import ModelTestCase


class TestCompGCN(ModelTestCase):
    name = "compgcn"


class TestCompGCNCorrTransE(ModelTestCase):
    name = "compgcn"
    kwargs = {"dim": 8, "composition": "corr", "decoder": "transe", "num_layers": 2}


@pytest.mark.parametrize("n", [4, 5])
def test_circular_correlation_matches_definition(n):
    x, r = torch.randn(n), torch.randn(n)
    expected = torch.stack([sum(x[i] * r[(i + k) % n] for i in range(n)) for k in range(n)])
    torch.testing.assert_close(compose(x, r, "corr"), expected, atol=1e-5, rtol=1e-5)
