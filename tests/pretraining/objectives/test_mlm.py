import torch

from kemm.pretraining.objectives.mlm import mask_tokens
from tests.pretraining.cases import ObjectiveTestCase, TinyTokenizer


class TestMLM(ObjectiveTestCase):
    name = "mlm"
    options = {"probability": 0.5}  # the tiny batch has few tokens


def test_labels_only_at_masked_positions_and_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 64, (400, 100), generator=g)
    ids[:, 0], ids[:, -1] = 1, 2
    mask = torch.ones_like(ids)
    mask[:, 90:] = 0
    ids[:, 90:] = 0
    ids[:, 89] = 2
    masked, labels = mask_tokens(ids, mask, TinyTokenizer(), torch.Generator().manual_seed(1))
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen])
    assert not chosen[:, 0].any() and not chosen[:, 89].any() and not chosen[:, 90:].any()
    assert torch.equal(masked[~chosen], ids[~chosen])
    n = (mask.bool() & (ids > 3)).sum()
    assert abs(chosen.sum() / n - 0.15) < 0.01
    to_mask = (masked == 3) & chosen
    kept = (masked == ids) & chosen
    assert abs(to_mask.sum() / chosen.sum() - 0.8) < 0.02
    # kept: the 10 % left alone plus random draws that hit the same token (1/64 of 10 %)
    assert abs(kept.sum() / chosen.sum() - 0.1) < 0.02
    assert abs((chosen & ~to_mask & ~kept).sum() / chosen.sum() - 0.1) < 0.02


def test_masking_follows_the_generator():
    ids = torch.randint(4, 64, (8, 16), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    a = mask_tokens(ids, mask, TinyTokenizer(), torch.Generator().manual_seed(3))
    b = mask_tokens(ids, mask, TinyTokenizer(), torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
