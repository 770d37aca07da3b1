import math

import pytest
import torch

from kemm.embeddings.losses import LOSSES, build_loss
from kemm.errors import KemmError
from tests.meta import assert_every_part_tested


def sp(x: float) -> float:  # softplus
    return math.log1p(math.exp(x))


def logsig(x: float) -> float:
    return -sp(-x)


POS, NEG = [1.0], [[0.5, 3.0]]
_p = [math.exp(0.5) / (math.exp(0.5) + math.exp(3.0)), math.exp(3.0) / (math.exp(0.5) + math.exp(3.0))]
# sLCWA value of each registered loss on one positive (score 1) against two negatives (0.5, 3), by hand
SLCWA_VALUES = {
    "margin": ({"margin": 1.0}, (0.5 + 3.0) / 2),
    "softplus": ({}, (sp(-1.0) + sp(0.5) + sp(3.0)) / 3),
    "bce": ({}, (sp(-1.0) + sp(0.5) + sp(3.0)) / 3),
    "softmax": ({}, -(1.0 - math.log(math.exp(1.0) + math.exp(0.5) + math.exp(3.0)))),
    "nssa": (
        {"margin": 9.0, "adversarial_temperature": 1.0},
        (-logsig(10.0) - _p[0] * logsig(-9.5) - _p[1] * logsig(-12.0)) / 2,
    ),
}


def test_every_loss_has_a_hand_computed_value():
    assert_every_part_tested(LOSSES, SLCWA_VALUES)


@pytest.mark.parametrize("name", sorted(SLCWA_VALUES))
def test_slcwa_value(name):
    kwargs, expected = SLCWA_VALUES[name]
    loss = build_loss(name, **kwargs)
    assert loss.slcwa(torch.tensor(POS), torch.tensor(NEG)).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", sorted(SLCWA_VALUES))
def test_better_separation_gives_lower_loss(name):
    loss = build_loss(name)
    neg = torch.zeros(4, 3)
    assert loss.slcwa(torch.full((4,), 5.0), neg) < loss.slcwa(torch.full((4,), -5.0), neg)


def test_margin_weights_drop_filtered_negatives():
    loss = build_loss("margin", margin=1.0)
    pos, neg = torch.tensor(POS), torch.tensor(NEG)
    assert loss.slcwa(pos, neg, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.5)


def test_lcwa_losses_and_refusals():
    scores, targets = torch.tensor([[3.0, -3.0]]), torch.tensor([[1.0, 0.0]])
    for name in ("bce", "softmax", "softplus"):
        assert build_loss(name).lcwa(scores, targets) < build_loss(name).lcwa(-scores, targets)
    with pytest.raises(KemmError, match="loss 'margin' cannot be used with LCWA"):
        build_loss("margin").lcwa(scores, targets)


def test_unknown_loss_option_is_named():
    with pytest.raises(KemmError, match=r"unknown option 'margn' for loss 'margin'; did you mean 'margin'"):
        build_loss("Margin", margn=2.0)
