import pytest
import torch

from kemm.embeddings.losses import LOSSES, build_loss
from kemm.errors import KemmError


@pytest.mark.parametrize("name", ["margin", "softplus", "bce", "softmax", "nssa"])
def test_better_separation_gives_lower_loss(name):
    loss = build_loss(name)
    neg = torch.zeros(4, 3)
    assert loss.slcwa(torch.full((4,), 5.0), neg) < loss.slcwa(torch.full((4,), -5.0), neg)


def test_margin_value_and_weights():
    loss = build_loss("margin", margin=1.0)
    pos, neg = torch.tensor([1.0]), torch.tensor([[0.5, 3.0]])
    assert loss.slcwa(pos, neg).item() == pytest.approx((0.5 + 3.0) / 2)
    assert loss.slcwa(pos, neg, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.5)


def test_lcwa_losses_and_refusals():
    scores, targets = torch.tensor([[3.0, -3.0]]), torch.tensor([[1.0, 0.0]])
    for name in ("bce", "softmax", "softplus"):
        assert build_loss(name).lcwa(scores, targets) < build_loss(name).lcwa(-scores, targets)
    with pytest.raises(KemmError, match="LCWA"):
        build_loss("margin").lcwa(scores, targets)
    assert "nssa" in LOSSES
