import pytest
import torch

from kemm.embeddings.decoders import DECODERS
from tests.meta import assert_every_part_tested

H, R, T = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]]), torch.tensor([[2.0, 1.0]])
# score of (H, R, T) by hand for each registered decoder
VALUES = {
    "distmult": 1.0 * 0.5 * 2.0 + 2.0 * -1.0 * 1.0,  # <h, r, t> = -1
    "transe": -(abs(1.0 + 0.5 - 2.0) + abs(2.0 - 1.0 - 1.0)),  # -||h + r - t||_1 = -0.5
}


def test_every_decoder_has_a_hand_computed_value():
    assert_every_part_tested(DECODERS, VALUES)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_decoder_scores_agree_with_the_one_vs_all_forms(name):
    d = DECODERS.build(name)
    assert d.score(H, R, T).item() == pytest.approx(VALUES[name])
    ent = torch.cat([torch.randn(3, 2), T])  # entity 3 is T
    assert d.score_tails(H, R, ent)[0, 3].item() == pytest.approx(VALUES[name], abs=1e-6)
    assert d.score_heads(R, T, torch.cat([torch.randn(3, 2), H]))[0, 3].item() == pytest.approx(
        VALUES[name], abs=1e-6
    )
