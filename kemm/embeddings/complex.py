"""ComplEx (Trouillon et al., 2016): ``score = Re(<h, r, conj(t)>)`` over complex vectors.

Rows hold ``[re | im]`` halves of width ``dim`` each, so the tables stay real (and sparse-capable).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel, split_complex


@dataclass
class ComplExConfig:
    """Options of :class:`ComplEx`.

    Attributes:
        dim: number of complex components (rows are ``2 * dim`` reals; default 128).
        sparse: sparse gradients for the lookup tables, updated row by row: ``True``, ``False``,
            or ``"auto"`` (default: sparse for a table of more than
            :data:`~kemm.embeddings.shallow.SPARSE_AUTO_ROWS` rows, so a step costs O(batch)).
    """

    dim: int = 128
    sparse: bool | str = "auto"


@register_model("complex", aliases=("compl-ex",))
class ComplEx(ShallowModel):
    config_class = ComplExConfig
    is_complex = True
    entity_width = 2
    relation_width = 2

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        (hr, hi), (rr, ri), (tr, ti) = split_complex(h), split_complex(r), split_complex(t)
        return ((hr * rr - hi * ri) * tr + (hr * ri + hi * rr) * ti).sum(-1)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        (hr, hi), (rr, ri) = split_complex(self.entity(h)), split_complex(self.relation(r))
        q = torch.cat([hr * rr - hi * ri, hr * ri + hi * rr], dim=-1)  # (B, 2D) = h * r
        return q @ self._entity_table().T  # (B, N): Re(q . conj(t)) = q_re t_re + q_im t_im

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        (rr, ri), (tr, ti) = split_complex(self.relation(r)), split_complex(self.entity(t))
        # Re(h . q) with q = r * conj(t) = h_re q_re - h_im q_im
        q = torch.cat([rr * tr + ri * ti, -(ri * tr - rr * ti)], dim=-1)  # (B, 2D)
        return q @ self._entity_table().T  # (B, N)
