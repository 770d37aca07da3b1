import numpy as np
import pytest
import torch

from kemm.embeddings.negatives import CORRUPTIONS, NegativeSampler, bernoulli_head_probability
from kemm.errors import KemmError
from tests.meta import assert_every_part_tested


def test_bernoulli_prefers_corrupting_the_one_side():
    # relation 0: one head with many tails (1-to-N) -> corrupt the head more often
    train = np.array([[0, 0, t] for t in range(1, 9)] + [[h, 1, 0] for h in range(1, 9)])
    p = bernoulli_head_probability(train, 2)
    assert p[0] > 0.8 and p[1] < 0.2


def test_each_negative_changes_exactly_one_side_and_filtering_marks_known():
    train = torch.tensor([[0, 0, 1], [1, 0, 2], [2, 0, 3]])
    s = NegativeSampler(
        train,
        4,
        1,
        num_negatives=50,
        corruption="uniform",
        filtered=True,
        generator=torch.Generator().manual_seed(0),
    )
    neg, w = s.sample(train)
    assert neg.shape == (3, 50, 3) and w.shape == (3, 50)
    same_h = neg[..., 0] == train[:, None, 0]
    same_t = neg[..., 2] == train[:, None, 2]
    assert bool((same_h | same_t).all())
    known = {tuple(x) for x in train.tolist()}
    expected = torch.tensor([[0.0 if tuple(x) in known else 1.0 for x in row] for row in neg.tolist()])
    assert torch.equal(w, expected)


# relation 0 is 1-to-N (one head, 8 tails), relation 1 is N-to-1: head-corruption probability by hand
ONE_TO_N = np.array([[0, 0, t] for t in range(1, 9)] + [[h, 1, 0] for h in range(1, 9)])
HEAD_PROBABILITY = {"uniform": [0.5, 0.5], "bernoulli": [8 / (8 + 1), 1 / (1 + 8)]}


def test_every_corruption_has_hand_computed_probabilities():
    assert_every_part_tested(CORRUPTIONS, HEAD_PROBABILITY)
    for name, expected in HEAD_PROBABILITY.items():
        p = CORRUPTIONS.get(name)(ONE_TO_N, 2)
        assert p.tolist() == pytest.approx(expected)


def test_unknown_corruption_is_named():
    with pytest.raises(KemmError, match=r"unknown corruption 'bernouli'; did you mean 'bernoulli'"):
        NegativeSampler(torch.tensor([[0, 0, 1]]), 2, 1, corruption="bernouli")
