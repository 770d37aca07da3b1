"""Train/valid/test splits for link prediction.

Every entity and relation of the valid and test triples also occurs in train (a model cannot
score what it never saw): for each entity and relation, the first triple that mentions it, in a
seeded random order, is forced into train before the rest is divided.

``drop_inverse_leakage`` removes the shortcut that made FB15k and WN18 easy (Toutanova & Chen,
2015; Dettmers et al., 2018): an evaluation triple whose two entities are already directly linked
in train, in either direction and by any relation, is moved to train.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kemm.errors import KemmError

logger = logging.getLogger(__name__)


@dataclass
class SplitResult:
    """Indices into the triples array per split, and what the splitter had to do."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    forced_into_train: int
    moved_for_leakage: int

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def _pair_keys(triples: np.ndarray, num_entities: int) -> np.ndarray:
    h = triples[:, 0].astype(np.int64)
    t = triples[:, 2].astype(np.int64)
    return np.minimum(h, t) * num_entities + np.maximum(h, t)


def split_triples(
    triples: np.ndarray,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    num_entities: int | None = None,
    drop_inverse_leakage: bool = False,
) -> SplitResult:
    """Split ``triples`` (shape ``(N, 3)``) into train/valid/test index arrays.

    Args:
        ratios: fractions for train, valid, test; they must sum to 1.
        seed: seed of the shuffle; the same seed gives the same split.
        num_entities: size of the entity vocabulary (default: max id + 1).
        drop_inverse_leakage: move to train every valid/test triple whose entity pair is linked in train.
    """
    triples = np.asarray(triples)
    n = len(triples)
    if n == 0:
        raise KemmError("cannot split a KG with no triples")
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise KemmError(f"ratios must be three non-negative numbers summing to 1, got {ratios}")
    if num_entities is None:
        num_entities = int(max(triples[:, 0].max(), triples[:, 2].max())) + 1
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    shuffled = triples[perm]
    # position in `perm` of the first triple that mentions each entity / relation
    forced = np.zeros(n, dtype=bool)
    for col in (0, 2, 1):
        _, first = np.unique(shuffled[:, col], return_index=True)
        forced[first] = True
    n_forced = int(forced.sum())
    n_valid = int(round(ratios[1] * n))
    n_test = int(round(ratios[2] * n))
    free = np.flatnonzero(~forced)  # positions in perm, still in shuffled order
    if n_valid + n_test > len(free):
        logger.warning(
            "only %d triples are free after covering every entity and relation in train; "
            "valid/test get fewer than asked (%d/%d)",
            len(free),
            n_valid,
            n_test,
        )
        scale = len(free) / max(n_valid + n_test, 1)
        n_valid, n_test = int(n_valid * scale), int(n_test * scale)
    valid_pos = free[:n_valid]
    test_pos = free[n_valid : n_valid + n_test]
    train_mask = np.ones(n, dtype=bool)
    train_mask[valid_pos] = False
    train_mask[test_pos] = False
    moved = 0
    if drop_inverse_leakage:
        train_pairs = np.unique(_pair_keys(shuffled[train_mask], num_entities))
        keep = []
        for pos in (valid_pos, test_pos):
            leak = np.isin(_pair_keys(shuffled[pos], num_entities), train_pairs)
            moved += int(leak.sum())
            train_mask[pos[leak]] = True
            keep.append(pos[~leak])
        valid_pos, test_pos = keep
    return SplitResult(
        train=np.sort(perm[train_mask]).astype(np.int64),
        valid=np.sort(perm[valid_pos]).astype(np.int64),
        test=np.sort(perm[test_pos]).astype(np.int64),
        forced_into_train=n_forced,
        moved_for_leakage=moved,
    )
