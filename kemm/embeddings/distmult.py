"""DistMult (Yang et al., 2015): a diagonal bilinear form, ``score = <h, r, t>``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel


@dataclass
class DistMultConfig:
    """Options of :class:`DistMult`.

    Attributes:
        dim: embedding width (default 128).
        normalize_entities: L2-normalise entity vectors before scoring (PyKEEN's default entity
            constraint for DistMult; default False).
        sparse: sparse gradients for the lookup tables; pair with ``SparseAdam`` on large graphs.
    """

    dim: int = 128
    normalize_entities: bool = False
    sparse: bool = False


@register_model("distmult", aliases=("dist-mult",))
class DistMult(ShallowModel):
    config_class = DistMultConfig

    def _entity_rows(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        e = super()._entity_rows(idx)
        return F.normalize(e, dim=-1) if self.config.normalize_entities else e

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (h * r * t).sum(-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (self._entity_rows(h) * self.relation(r)) @ self._entity_rows().T  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self._entity_rows(t) * self.relation(r)) @ self._entity_rows().T  # (B, N): symmetric
