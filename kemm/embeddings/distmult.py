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
        sparse: sparse gradients for the lookup tables, updated row by row: ``True``, ``False``,
            or ``"auto"`` (default: sparse for a table of more than
            :data:`~kemm.embeddings.shallow.SPARSE_AUTO_ROWS` rows, so a step costs O(batch)).
    """

    dim: int = 128
    sparse: bool | str = "auto"


@register_model("distmult", aliases=("dist-mult",))
class DistMult(ShallowModel):
    config_class = DistMultConfig

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (h * r * t).sum(-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (self.entity(h) * self.relation(r)) @ self._entity_table().T  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.entity(t) * self.relation(r)) @ self._entity_table().T  # (B, N): symmetric
