import pytest
import torch

from kemm.embeddings import build_model
from kemm.embeddings.shallow import SPARSE_AUTO_ROWS, resolve_sparse
from kemm.errors import KemmError


def test_auto_makes_only_large_tables_sparse():
    assert resolve_sparse("auto", SPARSE_AUTO_ROWS + 1) and not resolve_sparse("auto", SPARSE_AUTO_ROWS)
    assert resolve_sparse(True, 3) and not resolve_sparse(False, 10**6)
    model = build_model("transe", SPARSE_AUTO_ROWS + 1, 3, dim=2)  # sparse: "auto" is the default
    assert model.entity.sparse and not model.relation.sparse
    assert not build_model("transe", 12, 3, dim=2).entity.sparse


def test_unknown_sparse_option_is_refused():
    with pytest.raises(KemmError, match="sparse must be"):
        build_model("distmult", 12, 3, dim=2, sparse="yes")


@pytest.mark.parametrize("name", ["transe", "distmult", "complex", "rotate"])
def test_one_vs_all_training_of_a_sparse_table_keeps_the_gradient_sparse(name):
    model = build_model(name, 12, 3, dim=4, sparse=True)
    model.score_t(torch.tensor([0, 1]), torch.tensor([0, 2])).logsumexp(1).sum().backward()
    grad = model.entity.weight.grad
    assert grad.is_sparse  # what SparseAdam / RowSparseAdam take
    assert set(grad.coalesce().indices()[0].tolist()) == set(range(12))
