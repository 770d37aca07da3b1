import pytest
import torch

from kemm.errors import KemmError
from kemm.training.sparse_adam import RowSparseAdam


def _train(opt_cls, steps=5):
    torch.manual_seed(0)
    table = torch.nn.Embedding(10, 4, sparse=True)
    opt = opt_cls(table.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        idx = torch.randint(10, (6,), generator=g)  # repeated rows: the gradient is not coalesced
        opt.zero_grad()
        (table(idx) ** 2).sum().backward()
        opt.step()
    return table.weight.detach(), opt


def test_same_update_and_state_as_torch_sparse_adam():
    ours, opt = _train(RowSparseAdam)
    theirs, ref = _train(torch.optim.SparseAdam)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    (s,), (r,) = opt.state.values(), ref.state.values()
    assert s.keys() == r.keys() and int(s["step"]) == int(r["step"]) == 5
    torch.testing.assert_close(s["exp_avg_sq"], r["exp_avg_sq"])


def test_rows_outside_the_batch_do_not_move():
    table = torch.nn.Embedding(5, 3, sparse=True)
    before = table.weight.detach().clone()
    opt = RowSparseAdam(table.parameters(), lr=0.1)
    table(torch.tensor([1, 3])).sum().backward()
    opt.step()
    moved = (table.weight.detach() != before).any(1)
    assert moved.tolist() == [False, True, False, True, False]


def test_dense_gradient_is_refused():
    w = torch.nn.Parameter(torch.zeros(3, 2))
    w.grad = torch.ones(3, 2)
    with pytest.raises(KemmError, match="sparse gradients"):
        RowSparseAdam([w]).step()
