"""DistMult (Yang et al., 2015): a diagonal bilinear form, ``score = <h, r, t>``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel


@dataclass
class DistMultConfig:
    """Options of :class:`DistMult`.

    Attributes:
        dim: embedding width (default 128).
        sparse: sparse gradients for the lookup tables; pair with ``SparseAdam`` on large graphs.
    """

    dim: int = 128
    sparse: bool = False


@register_model("distmult", aliases=("dist-mult",))
class DistMult(ShallowModel):
    config_class = DistMultConfig

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (h * r * t).sum(-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (self.entity(h) * self.relation(r)) @ self.entity.weight.T  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.entity(t) * self.relation(r)) @ self.entity.weight.T  # (B, N): symmetric
