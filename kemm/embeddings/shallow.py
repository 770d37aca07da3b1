"""Shared base of the shallow embedding models (one vector per entity and per relation)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kemm.embeddings.base import KGEModel


class ShallowModel(KGEModel):
    """Entity and relation lookup tables plus an interaction function.

    Subclasses implement :meth:`interaction` on broadcastable embedding tensors and the vectorised
    1-vs-all forms :meth:`score_t` / :meth:`score_h`. With ``config.sparse`` the tables produce
    sparse gradients (use ``SparseAdam``), so a step costs O(batch), not O(table).

    Attributes:
        entity: ``nn.Embedding(num_entities, entity_dim)``.
        relation: ``nn.Embedding(num_relations, relation_dim)``.
    """

    #: width of an entity row / a relation row as a multiple of ``config.dim``
    entity_width: int = 1
    relation_width: int = 1

    def __init__(self, num_entities: int, num_relations: int, config: Any = None) -> None:
        super().__init__(num_entities, num_relations, config)
        dim = self.config.dim
        self.entity = nn.Embedding(num_entities, dim * self.entity_width, sparse=self.config.sparse)
        self.relation = nn.Embedding(num_relations, dim * self.relation_width, sparse=self.config.sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Score of broadcastable embeddings ``(..., d)`` -> ``(...)``."""
        raise NotImplementedError

    def _entity_rows(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Entity vectors as the interaction sees them (subclasses may normalise)."""
        return self.entity.weight if idx is None else self.entity(idx)

    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.interaction(self._entity_rows(h), self.relation(r), self._entity_rows(t))  # (B,)

    def regularization_terms(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        return [self.entity(h), self.relation(r), self.entity(t)]

    def entity_embeddings(self) -> torch.Tensor:
        return self._entity_rows().detach()

    def relation_embeddings(self) -> torch.Tensor:
        return self.relation.weight.detach()

    def extra_repr(self) -> str:
        return f"num_entities={self.num_entities}, num_relations={self.num_relations}, config={self.config}"


def split_complex(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., 2d)`` packed as ``[re | im]`` -> ``(re, im)``, each ``(..., d)``."""
    d = x.shape[-1] // 2
    return x[..., :d], x[..., d:]
