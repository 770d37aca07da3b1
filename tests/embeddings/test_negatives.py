import numpy as np
import torch

from kemm.embeddings.negatives import NegativeSampler, bernoulli_head_probability


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
