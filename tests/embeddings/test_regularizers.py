"""REGULARIZERS: l2 and n3 on hand-computed rows; complex rows use the modulus."""

import pytest
import torch

from kemm.embeddings import build_model
from kemm.embeddings.regularizers import REGULARIZERS, regularization
from kemm.errors import KemmError


def test_l2_and_n3_by_hand():
    real = build_model("distmult", 3, 2, dim=2)
    x = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert regularization(real, [x], "l2").item() == pytest.approx((25 + 1) / 2)
    assert regularization(real, [x, x], "n3").item() == pytest.approx((27 + 64 + 1) / 2)
    cplx = build_model("complex", 3, 2, dim=1)
    assert REGULARIZERS.get("N3")(cplx, [torch.tensor([[3.0, 4.0]])]).item() == pytest.approx(125.0, rel=1e-5)
    with pytest.raises(KemmError, match="unknown regularizer 'l3'"):
        regularization(real, [x], "l3")


def test_every_regularizer_has_a_hand_computed_value():
    from tests.meta import assert_every_part_tested

    assert_every_part_tested(REGULARIZERS, ["l2", "n3"])  # the values asserted above
