"""Training losses for sLCWA (a positive against sampled negatives) and LCWA (1-vs-all) scoring.

Every loss takes scores where higher means more plausible. sLCWA form:
``slcwa(pos (B,), neg (B, K), weight (B, K) or None)``; ``weight`` zeroes filtered false negatives.
LCWA form: ``lcwa(scores (B, N), targets (B, N) in {0, 1})``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kemm.errors import KemmError
from kemm.registry import Registry


class Loss:
    """Base class; subclasses implement one or both forms."""

    registered_name = ""

    def slcwa(self, pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        raise KemmError(
            f"loss {self.registered_name!r} cannot be used with sLCWA training (negative sampling)"
        )

    def lcwa(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise KemmError(f"loss {self.registered_name!r} cannot be used with LCWA (1-vs-all) training")


LOSSES: Registry[type[Loss]] = Registry("loss", base=Loss)


def _wmean(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return x.mean() if weight is None else (x * weight).sum() / weight.sum().clamp_min(1.0)


@LOSSES.register("margin", aliases=("marginranking", "margin_ranking"))
class MarginRankingLoss(Loss):
    """``max(0, margin - pos + neg)`` averaged over all (positive, negative) pairs."""

    def __init__(self, margin: float = 1.0) -> None:
        self.margin = margin

    def slcwa(self, pos, neg, weight=None):
        return _wmean(F.relu(self.margin - pos[:, None] + neg), weight)


@LOSSES.register("softplus")
class SoftplusLoss(Loss):
    """Pointwise logistic loss: ``softplus(-pos)`` and ``softplus(neg)``, averaged over all scores."""

    def slcwa(self, pos, neg, weight=None):
        w = torch.ones_like(neg) if weight is None else weight
        return (F.softplus(-pos).sum() + (F.softplus(neg) * w).sum()) / (pos.numel() + w.sum())

    def lcwa(self, scores, targets):
        return F.softplus(scores * (1 - 2 * targets)).mean()


@LOSSES.register("bce", aliases=("binary_cross_entropy",))
class BCELoss(Loss):
    """Binary cross-entropy on sigmoid(score) with optional label smoothing (ConvE's 1-vs-all loss)."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = label_smoothing

    def _smooth(self, targets: torch.Tensor, n: int) -> torch.Tensor:
        e = self.label_smoothing
        return targets * (1.0 - e) + e / n if e else targets

    def slcwa(self, pos, neg, weight=None):
        scores = torch.cat([pos[:, None], neg], dim=1)  # (B, 1 + K)
        targets = torch.zeros_like(scores)
        targets[:, 0] = 1.0
        w = torch.ones_like(scores)
        if weight is not None:
            w[:, 1:] = weight
        return (
            F.binary_cross_entropy_with_logits(scores, self._smooth(targets, 2), weight=w, reduction="sum")
            / w.sum()
        )

    def lcwa(self, scores, targets):
        return F.binary_cross_entropy_with_logits(scores, self._smooth(targets, scores.shape[1]))


@LOSSES.register("softmax", aliases=("crossentropy", "cross_entropy"))
class SoftmaxCrossEntropyLoss(Loss):
    """Cross-entropy of the softmax over all candidates against the normalised true set (Lacroix et al., 2018)."""

    def slcwa(self, pos, neg, weight=None):
        scores = torch.cat([pos[:, None], neg], dim=1)  # (B, 1 + K)
        if weight is not None:
            scores = torch.cat([pos[:, None], neg.masked_fill(weight == 0, float("-inf"))], dim=1)
        return -torch.log_softmax(scores, dim=1)[:, 0].mean()

    def lcwa(self, scores, targets):
        p = targets / targets.sum(1, keepdim=True).clamp_min(1.0)
        return -(p * torch.log_softmax(scores, dim=1)).sum(1).mean()


@LOSSES.register("nssa", aliases=("self_adversarial", "selfadversarial"))
class SelfAdversarialLoss(Loss):
    """RotatE's self-adversarial negative sampling loss (Sun et al., 2019).

    ``-log sigmoid(margin + pos) - sum_k softmax(alpha * neg)_k log sigmoid(-margin - neg_k)``; the
    softmax weights are treated as constants.
    """

    def __init__(self, margin: float = 9.0, adversarial_temperature: float = 1.0) -> None:
        self.margin = margin
        self.temperature = adversarial_temperature

    def slcwa(self, pos, neg, weight=None):
        logits = self.temperature * neg.detach()
        if weight is not None:
            logits = logits.masked_fill(weight == 0, float("-inf"))
        p = torch.softmax(logits, dim=1)  # (B, K)
        neg_term = -(p * F.logsigmoid(-self.margin - neg)).sum(1)
        return (-F.logsigmoid(self.margin + pos) + neg_term).mean() / 2


def build_loss(spec: str | type[Loss] | Loss, source: str | None = None, **kwargs) -> Loss:
    """A loss from a name, class or instance; options checked (unknown key: named with the nearest)."""
    return LOSSES.build(spec, source=source, **kwargs)
