"""TransE (Bordes et al., 2013): a relation is a translation, ``score = -||h + r - t||_p``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel


@dataclass
class TransEConfig:
    """Options of :class:`TransE`.

    Attributes:
        dim: embedding width (default 128).
        p: norm of the distance, 1 (L1) or 2 (L2) (default 1).
        normalize_entities: L2-normalise entity vectors before scoring, the original paper's
            constraint (default True).
        sparse: sparse gradients for the lookup tables, updated row by row: ``True``, ``False``,
            or ``"auto"`` (default: sparse for a table of more than
            :data:`~kemm.embeddings.shallow.SPARSE_AUTO_ROWS` rows, so a step costs O(batch)).
    """

    dim: int = 128
    p: int = 1
    normalize_entities: bool = True
    sparse: bool | str = "auto"


@register_model("transe", aliases=("trans-e",))
class TransE(ShallowModel):
    config_class = TransEConfig

    def _entity_rows(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        e = super()._entity_rows(idx)
        return F.normalize(e, dim=-1) if self.config.normalize_entities else e

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -torch.linalg.vector_norm(h + r - t, ord=self.config.p, dim=-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        q = self._entity_rows(h) + self.relation(r)  # (B, D)
        return -torch.cdist(q, self._entity_rows(), p=self.config.p)  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        q = self._entity_rows(t) - self.relation(r)  # (B, D): h should land on t - r
        return -torch.cdist(q, self._entity_rows(), p=self.config.p)  # (B, N)
