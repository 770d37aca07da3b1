"""Filtered rank-based link-prediction evaluation, both sides, realistic ranks.

For a test triple ``(h, r, t)`` the tail side scores ``(h, r, e)`` for every entity ``e``; every
other *known* true tail of ``(h, r)`` (in the filter splits, usually train + valid + test) is
removed before ranking (Bordes et al., 2013). Ties get the *realistic* rank, the mean of the
optimistic rank (``1 + #{score > true}``) and the pessimistic rank (``#{score >= true}``), so a
model that gives every entity the same score ranks in the middle, not first. The head side is the
same with ``(e, r, t)``. The rank and metric arithmetic lives in :mod:`kemm.evaluation.metrics`.

Filtering is batched and vectorised: known tails of each ``(h, r)`` and heads of each ``(r, t)``
sit in sorted key/value arrays; a batch's entries are found with ``searchsorted`` and masked with
one scatter, with no Python loop over triples or entities.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from kemm.embeddings.base import KGEModel
from kemm.errors import KemmError
from kemm.evaluation.metrics import hits_at_k, mean_rank, mrr, realistic_rank

HITS_AT = (1, 3, 10)


@dataclass
class RankMetrics:
    """Metrics of a set of ranks.

    Attributes:
        mrr: mean reciprocal (realistic) rank, in (0, 1].
        mean_rank: mean realistic rank (1 is best).
        hits_at_1, hits_at_3, hits_at_10: fraction of ranks <= k.
        count: number of ranks.
    """

    mrr: float
    mean_rank: float
    hits_at_1: float
    hits_at_3: float
    hits_at_10: float
    count: int

    @classmethod
    def from_ranks(cls, ranks: np.ndarray) -> RankMetrics:
        """Metrics of ``ranks (n,)``, computed by :mod:`kemm.evaluation.metrics` (ValueError when empty)."""
        h1, h3, h10 = (hits_at_k(ranks, k) for k in HITS_AT)
        return cls(mrr(ranks), mean_rank(ranks), h1, h3, h10, int(len(ranks)))


@dataclass
class EvaluationResult:
    """Filtered link-prediction results.

    Attributes:
        both: metrics over head and tail ranks together (the headline numbers).
        head, tail: metrics of each side.
        per_relation: relation name -> metrics over both sides of that relation's triples.
        ranks_head, ranks_tail: realistic ranks ``(n,)`` of each test triple.
        seconds: wall-clock time of the evaluation.
    """

    both: RankMetrics
    head: RankMetrics
    tail: RankMetrics
    per_relation: dict[str, RankMetrics] = field(default_factory=dict)
    ranks_head: np.ndarray | None = None
    ranks_tail: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def mrr(self) -> float:
        return self.both.mrr

    def as_dict(self) -> dict:
        return {
            "both": asdict(self.both),
            "head": asdict(self.head),
            "tail": asdict(self.tail),
            "per_relation": {k: asdict(v) for k, v in self.per_relation.items()},
            "seconds": self.seconds,
        }


class FilterIndex:
    """Known true tails of each ``(h, r)`` and heads of each ``(r, t)``, as sorted key/value arrays.

    Args:
        known: ``(M, 3)`` int64 triples that count as true (duplicates are harmless).
    """

    def __init__(self, known: torch.Tensor, num_entities: int, num_relations: int) -> None:
        known = torch.as_tensor(np.asarray(known), dtype=torch.long)
        self.num_relations = num_relations
        self.tail_keys, self.tail_vals = self._sorted(known[:, 0] * num_relations + known[:, 1], known[:, 2])
        self.head_keys, self.head_vals = self._sorted(known[:, 2] * num_relations + known[:, 1], known[:, 0])

    @staticmethod
    def _sorted(keys: torch.Tensor, vals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.argsort(keys)
        return keys[order].contiguous(), vals[order].contiguous()

    @staticmethod
    def _lookup(
        keys: torch.Tensor, vals: torch.Tensor, query: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.searchsorted(keys, query)
        hi = torch.searchsorted(keys, query, right=True)
        counts = hi - lo  # (B,)
        rows = torch.repeat_interleave(torch.arange(len(query)), counts)  # (nnz,)
        starts = torch.repeat_interleave(lo - (torch.cumsum(counts, 0) - counts), counts)
        return rows, vals[starts + torch.arange(len(rows))]

    def tails(self, h: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rows, cols)``: batch row ``i`` has known true tail ``cols[j]`` wherever ``rows[j] == i``."""
        return self._lookup(self.tail_keys, self.tail_vals, h * self.num_relations + r)

    def heads(self, r: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._lookup(self.head_keys, self.head_vals, t * self.num_relations + r)


def filtered_ranks(
    scores: torch.Tensor, target: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
) -> torch.Tensor:
    """Realistic filtered ranks ``(B,)`` of ``target`` columns in ``scores (B, N)`` (modified in place).

    ``rows, cols`` list the known true entities to remove (the targets may be among them).
    """
    b = torch.arange(len(target), device=scores.device)
    true = scores[b, target].clone()  # (B,)
    scores[rows.to(scores.device), cols.to(scores.device)] = float("-inf")
    scores[b, target] = true  # the target may be among the known true entities
    return realistic_rank(scores, target.to(scores.device))


@torch.no_grad()
def evaluate(
    model: KGEModel,
    triples: np.ndarray | torch.Tensor,
    filter_triples: np.ndarray | torch.Tensor | None,
    relation_names: list[str] | None = None,
    batch_size: int | None = None,
    filter_index: FilterIndex | None = None,
) -> EvaluationResult:
    """Rank every triple of ``triples`` ``(n, 3)`` against all entities, on both sides.

    Args:
        filter_triples: ``(M, 3)`` known true triples to filter (``None``: raw ranks).
        relation_names: id -> name, for the per-relation breakdown (``None``: no breakdown).
        batch_size: test triples per scoring call (default: as many as fit in ~64 MiB of scores).
        filter_index: a prebuilt :class:`FilterIndex` (saves rebuilding it on every validation).
    """
    start = time.perf_counter()
    test = torch.as_tensor(np.asarray(triples), dtype=torch.long)
    if test.ndim != 2 or test.shape[1] != 3 or len(test) == 0:
        raise KemmError(f"nothing to evaluate: expected (n, 3) triples, got shape {tuple(test.shape)}")
    n_ent = model.num_entities
    if int(test[:, [0, 2]].max()) >= n_ent or int(test[:, 1].max()) >= model.num_relations:
        raise KemmError("evaluation triples use ids outside the model's vocabulary (mismatched vocabulary?)")
    if filter_index is None:
        known = (
            test if filter_triples is None else torch.as_tensor(np.asarray(filter_triples), dtype=torch.long)
        )
        filter_index = FilterIndex(
            known if filter_triples is not None else test[:0], n_ent, model.num_relations
        )
    device = next(model.parameters()).device
    bs = batch_size or max(1, min(4096, (1 << 24) // n_ent))
    was_training = model.training
    model.eval()
    ranks_t, ranks_h = [], []
    for i in range(0, len(test), bs):
        h, r, t = test[i : i + bs].unbind(1)
        hd, rd, td = h.to(device), r.to(device), t.to(device)
        rows, cols = filter_index.tails(h, r)
        ranks_t.append(filtered_ranks(model.score_t(hd, rd).float(), td, rows, cols).cpu())
        rows, cols = filter_index.heads(r, t)
        ranks_h.append(filtered_ranks(model.score_h(rd, td).float(), hd, rows, cols).cpu())
    model.train(was_training)
    rt, rh = torch.cat(ranks_t).numpy(), torch.cat(ranks_h).numpy()
    per_relation = {}
    if relation_names is not None:
        rel = test[:, 1].numpy()
        for rid in np.unique(rel):
            m = rel == rid
            per_relation[relation_names[rid]] = RankMetrics.from_ranks(np.concatenate([rh[m], rt[m]]))
    return EvaluationResult(
        both=RankMetrics.from_ranks(np.concatenate([rh, rt])),
        head=RankMetrics.from_ranks(rh),
        tail=RankMetrics.from_ranks(rt),
        per_relation=per_relation,
        ranks_head=rh,
        ranks_tail=rt,
        seconds=time.perf_counter() - start,
    )
