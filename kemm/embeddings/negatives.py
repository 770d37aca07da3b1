"""Negative sampling for sLCWA training: corrupt the head or the tail of each positive triple.

``uniform`` corrupts head or tail with probability 1/2; ``bernoulli`` (Wang et al., 2014) corrupts
the head with probability ``tph / (tph + hpt)`` of the triple's relation, so that 1-to-N relations
replace the "1" side more often and produce fewer false negatives. ``filtered=True`` additionally
marks negatives that are known training triples so that the loss ignores them.
"""

from __future__ import annotations

import numpy as np
import torch

from kemm.registry import Registry

#: corruption strategies: ``(train (n, 3) int64 array, num_relations) -> (R,)`` head-corruption probability
CORRUPTIONS: Registry = Registry("corruption")


def triple_keys(triples: torch.Tensor, num_entities: int, num_relations: int) -> torch.Tensor:
    """One int64 per triple, ``(h * R + r) * N + t``: shape ``(..., 3)`` -> ``(...)``."""
    return (triples[..., 0] * num_relations + triples[..., 1]) * num_entities + triples[..., 2]


class NegativeSampler:
    """Draws ``num_negatives`` corruptions per positive.

    Args:
        train: ``(n, 3)`` int64 training triples (for Bernoulli statistics and filtering).
        num_entities, num_relations: vocabulary sizes.
        num_negatives: corruptions per positive (K).
        corruption: a name in :data:`CORRUPTIONS` (``"uniform"`` or ``"bernoulli"``).
        filtered: mark negatives that are training triples (returned weight 0).
        generator: random generator (the trainer seeds it; its state is checkpointed).
    """

    def __init__(
        self,
        train: torch.Tensor,
        num_entities: int,
        num_relations: int,
        num_negatives: int = 1,
        corruption: str = "bernoulli",
        filtered: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        head_probability = CORRUPTIONS.get(corruption)
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.num_negatives = num_negatives
        self.generator = generator
        self.p_head = head_probability(train.numpy(), num_relations)
        self.known = torch.sort(triple_keys(train, num_entities, num_relations)).values if filtered else None

    def sample(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``pos (B, 3)`` -> (negatives ``(B, K, 3)``, weight ``(B, K)`` or ``None`` when unfiltered)."""
        b, k = pos.shape[0], self.num_negatives
        g = self.generator
        corrupt_head = torch.rand(b, k, generator=g) < self.p_head[pos[:, 1]][:, None]  # (B, K)
        rand = torch.randint(self.num_entities, (b, k), generator=g)  # (B, K)
        neg = pos[:, None, :].expand(b, k, 3).clone()  # (B, K, 3)
        neg[..., 0] = torch.where(corrupt_head, rand, neg[..., 0])
        neg[..., 2] = torch.where(corrupt_head, neg[..., 2], rand)
        if self.known is None:
            return neg, None
        keys = triple_keys(neg, self.num_entities, self.num_relations)
        pos_idx = torch.searchsorted(self.known, keys).clamp_max(len(self.known) - 1)
        return neg, (self.known[pos_idx] != keys).float()


@CORRUPTIONS.register("uniform")
def uniform_head_probability(train: np.ndarray, num_relations: int) -> torch.Tensor:
    """Head or tail with probability 1/2 each (Bordes et al., 2013); ``(R,)``."""
    return torch.full((num_relations,), 0.5)


@CORRUPTIONS.register("bernoulli")
def bernoulli_head_probability(train: np.ndarray, num_relations: int) -> torch.Tensor:
    """Per relation ``tph / (tph + hpt)``: tails per head over (tails per head + heads per tail); ``(R,)``."""
    t = np.asarray(train, dtype=np.int64)
    p = np.full(num_relations, 0.5, dtype=np.float32)
    if len(t) == 0:
        return torch.from_numpy(p)
    r = t[:, 1]
    heads = np.unique(np.stack([r, t[:, 0]], 1), axis=0)[:, 0]  # relation of each distinct (r, h)
    tails = np.unique(np.stack([r, t[:, 2]], 1), axis=0)[:, 0]
    count = np.bincount(r, minlength=num_relations).astype(np.float64)
    n_heads = np.bincount(heads, minlength=num_relations).astype(np.float64)
    n_tails = np.bincount(tails, minlength=num_relations).astype(np.float64)
    seen = count > 0
    tph = count[seen] / n_heads[seen]
    hpt = count[seen] / n_tails[seen]
    p[seen] = tph / (tph + hpt)
    return torch.from_numpy(p)
