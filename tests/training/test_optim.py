"""The OPTIMIZERS registry: names, checked options, sparse tables under adam."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.training import OPTIMIZERS, build_optimizer
from tests.meta import assert_every_part_tested


def sparse_model():
    return torch.nn.ModuleDict({"emb": torch.nn.Embedding(4, 2, sparse=True), "lin": torch.nn.Linear(2, 1)})


# first step on f(w) = w^2 from w = 1 (gradient 2), lr 0.1, by hand: SGD moves by lr * g; Adam and
# Adagrad move by lr (they normalise the gradient); AdamW first decays w by lr * weight_decay
FIRST_STEP = {
    "sgd": ({}, 1 - 0.1 * 2),
    "adam": ({}, 1 - 0.1),
    "adagrad": ({}, 1 - 0.1),
    "adamw": ({"weight_decay": 0.5}, 1 * (1 - 0.1 * 0.5) - 0.1),
}


def test_every_optimizer_has_a_hand_computed_first_step():
    assert_every_part_tested(OPTIMIZERS, FIRST_STEP)


@pytest.mark.parametrize("name", sorted(FIRST_STEP))
def test_first_step(name):
    kwargs, expected = FIRST_STEP[name]
    w = torch.nn.Parameter(torch.tensor([1.0]))
    module = torch.nn.Module()
    module.w = w
    opt = build_optimizer(name, module, lr=0.1, **kwargs)
    (w**2).sum().backward()
    opt.step()
    assert w.item() == pytest.approx(expected, abs=1e-6)


def test_sparse_tables_get_sparse_adam_under_adam():
    opt = build_optimizer("Adam", sparse_model(), lr=0.1)
    assert [type(o).__name__ for o in opt.optimizers] == ["RowSparseAdam", "Adam"]
    assert opt.optimizers[0].defaults["lr"] == 0.1
    assert [type(o).__name__ for o in build_optimizer("adagrad", sparse_model()).optimizers] == ["Adagrad"]


def test_options_are_checked():
    lin = torch.nn.Linear(2, 1)
    opt = build_optimizer("adamw", lin, lr=1e-3, weight_decay=0.1)
    assert opt.optimizers[0].defaults["weight_decay"] == 0.1
    with pytest.raises(KemmError, match="unknown option 'weight_decy'.*did you mean 'weight_decay'"):
        build_optimizer("adamw", lin, weight_decy=0.1)
    with pytest.raises(KemmError, match="'params' is reserved"):
        build_optimizer("sgd", lin, params=[])
    with pytest.raises(KemmError, match="cannot update sparse"):
        build_optimizer("adamw", sparse_model())
    with pytest.raises(KemmError, match="unknown optimizer 'adamx'"):
        build_optimizer("adamx", lin)


def test_a_built_optimizer_is_taken_as_it_is():
    lin = torch.nn.Linear(2, 1)
    sgd = torch.optim.SGD(lin.parameters(), lr=1.0)
    assert build_optimizer(sgd, lin).optimizers == [sgd]


def test_a_bad_option_value_is_one_error_naming_it():
    import torch

    from kemm.errors import KemmError
    from kemm.training.optim import build_optimizer

    with pytest.raises(KemmError, match=r"cfg.yaml: optimizer 'adamw' \(lr='fast'\)"):
        build_optimizer("adamw", torch.nn.Linear(2, 2), source="cfg.yaml", lr="fast")
