"""Filtered realistic ranks against a brute-force reference on random scores with ties."""

import numpy as np
import pytest
import torch

from kemm.embeddings.base import KGEModel
from kemm.embeddings.evaluation import FilterIndex, evaluate, filtered_ranks

N, R = 9, 2


class TableModel(KGEModel):
    """Scores from a fixed table ``(N, R, N)``: integers in 0..3, so ties are frequent."""

    config_class = dict

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__(N, R, {})
        self.table = table
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def score_hrt(self, h, r, t):
        return self.table[h, r, t]

    def score_t(self, h, r):
        return self.table[h, r, :].clone()

    def score_h(self, r, t):
        return self.table[:, r, t].T.clone()


def brute_force(table, test, known):
    known = {tuple(x) for x in known.tolist()}
    head, tail = [], []
    for h, r, t in test.tolist():
        for side, out in (("tail", tail), ("head", head)):
            true = table[h, r, t].item()
            cands = [(h, r, e) if side == "tail" else (e, r, t) for e in range(N)]
            others = [table[c].item() for c in cands if c not in known and c != (h, r, t)]
            opt = 1 + sum(s > true for s in others)
            pess = 1 + sum(s >= true for s in others)
            out.append((opt + pess) / 2)
    return np.array(head), np.array(tail)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(0, 4, (N, R, N), generator=g).float()
    known = torch.randint(0, N, (40, 3), generator=g)
    known[:, 1] %= R
    test = known[:10]
    res = evaluate(TableModel(table), test, known, relation_names=["a", "b"], batch_size=3)
    head, tail = brute_force(table, test, known)
    np.testing.assert_allclose(res.ranks_head, head)
    np.testing.assert_allclose(res.ranks_tail, tail)
    all_ranks = np.concatenate([head, tail])
    assert res.mrr == pytest.approx(np.mean(1 / all_ranks))
    assert res.both.hits_at_3 == pytest.approx(np.mean(all_ranks <= 3))
    assert sum(m.count for m in res.per_relation.values()) == 20


def test_constant_scores_rank_in_the_middle():
    scores = torch.zeros(1, 11)
    rank = filtered_ranks(
        scores, torch.tensor([4]), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    )
    assert rank.item() == 6.0  # optimistic 1, pessimistic 11


def test_filter_index_lookup():
    known = torch.tensor([[0, 0, 1], [0, 0, 2], [1, 0, 2], [0, 1, 3]])
    idx = FilterIndex(known, 4, 2)
    rows, cols = idx.tails(torch.tensor([0, 1, 3]), torch.tensor([0, 0, 0]))
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (0, 2), (1, 2)]
    rows, cols = idx.heads(torch.tensor([0]), torch.tensor([2]))
    assert sorted(cols.tolist()) == [0, 1]
