"""RotatE (Sun et al., 2019): a relation rotates ``h`` in the complex plane, ``score = -||h * r - t||``.

Relations are stored as phases, so ``|r_i| = 1`` holds exactly. The distance is the L2 norm of the
complex difference (as in PyKEEN), which lets the 1-vs-all forms use ``cdist``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel, split_complex


@dataclass
class RotatEConfig:
    """Options of :class:`RotatE`.

    Attributes:
        dim: number of complex components (entity rows are ``2 * dim`` reals; default 128).
        sparse: sparse gradients for the lookup tables, updated row by row: ``True``, ``False``,
            or ``"auto"`` (default: sparse for a table of more than
            :data:`~kemm.embeddings.shallow.SPARSE_AUTO_ROWS` rows, so a step costs O(batch)).
    """

    dim: int = 128
    sparse: bool | str = "auto"


@register_model("rotate", aliases=("rotat-e",))
class RotatE(ShallowModel):
    config_class = RotatEConfig
    is_complex = True
    entity_width = 2
    relation_width = 1  # phases

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.uniform_(self.relation.weight, -torch.pi, torch.pi)

    def _rotation(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phase = self.relation(r)  # (B, D)
        return torch.cos(phase), torch.sin(phase)

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        xr, xi = split_complex(x)
        return torch.cat([xr * cos - xi * sin, xr * sin + xi * cos], dim=-1)

    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        cos, sin = self._rotation(r)
        return -torch.linalg.vector_norm(self._rotate(self.entity(h), cos, sin) - self.entity(t), dim=-1)

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -torch.linalg.vector_norm(self._rotate(h, torch.cos(r), torch.sin(r)) - t, dim=-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        cos, sin = self._rotation(r)
        return -torch.cdist(self._rotate(self.entity(h), cos, sin), self._entity_table())  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        cos, sin = self._rotation(r)
        # |h * r - t| = |h - t * conj(r)| because |r| = 1
        return -torch.cdist(self._rotate(self.entity(t), cos, -sin), self._entity_table())  # (B, N)

    def regularization_terms(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        return [self.entity(h), self.entity(t)]

    def relation_embeddings(self) -> torch.Tensor:
        """``(num_relations, 2 * dim)``: the unit complex rotations as ``[cos | sin]``."""
        phase = self.relation.weight.detach()
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
