"""Knowledge-transfer splits: which picturable objects are held out for validation and test.

Validation and test questions (VQA, multiple choice, cloze) are about held-out entities only, and no
training question states a fact that has a held-out entity at either end. Held-out entities still
appear in training images, their captions and the KG: a model can only answer about them by
transferring what the KG says, not by memorising training questions. The optional ``test_seen``
split is the contrast: like training, its questions are about entities that are not held out (and
may ask facts that training questions ask), so that accuracy on seen entities can be reported
beside accuracy on held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kemm.data.benchmark.config import SEEN_SPLIT
from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.errors import KemmError

#: Splits whose questions are about (and only name) entities that are not held out.
_SEEN_SPLITS = frozenset({"train", SEEN_SPLIT})


@dataclass(frozen=True)
class EntitySplit:
    """Held-out entity keys per evaluation split.

    Attributes:
        val: keys whose facts only validation questions ask about.
        test: keys whose facts only test questions ask about (disjoint from ``val``).
    """

    val: frozenset[str]
    test: frozenset[str]

    @cached_property
    def heldout(self) -> frozenset[str]:
        """Every held-out key (validation and test)."""
        return self.val | self.test

    def of(self, split: str) -> frozenset[str]:
        """Held-out keys of ``split`` (empty for ``train`` and ``test_seen``)."""
        return {"val": self.val, "test": self.test}.get(split, frozenset())

    def subject_allowed(self, split: str, key: str) -> bool:
        """Whether a ``split`` question may be about ``key``: in ``train`` and ``test_seen``, any key
        that is not held out; in ``val`` and ``test``, only the split's own held-out keys."""
        return key not in self.heldout if split in _SEEN_SPLITS else key in self.of(split)

    def mention_allowed(self, split: str, key: str) -> bool:
        """Whether a ``split`` question may name ``key`` at all (subject, answer, distractor, context).

        Training and ``test_seen`` questions never name a held-out entity; a validation (test)
        question never names an entity held out for the *other* one of the two.
        """
        if split in _SEEN_SPLITS:
            return key not in self.heldout
        return key not in self.heldout - self.of(split)


def choose_heldout(
    knowledge: BenchmarkKnowledge, fraction: float, seed: int, askable: set[str]
) -> EntitySplit:
    """Hold out ``fraction`` of the picturable objects that have askable facts, half for val, half for test.

    Args:
        askable: picturable keys with at least one fact the benchmark can ask about.
    """
    candidates = sorted(k for k in knowledge.objects if k in askable)
    if len(candidates) < 3:
        raise KemmError(
            f"the KG has {len(candidates)} picturable objects with askable facts; at least 3 are needed "
            "(training, validation and test entities)"
        )
    n = min(max(2, round(fraction * len(candidates))), len(candidates) - 1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    chosen = [candidates[i] for i in rng.permutation(len(candidates))[:n]]
    n_val = n // 2
    return EntitySplit(val=frozenset(chosen[:n_val]), test=frozenset(chosen[n_val:]))
