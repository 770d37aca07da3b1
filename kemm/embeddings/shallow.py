"""Shared base of the shallow embedding models (one vector per entity and per relation)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from kemm.embeddings.base import KGEModel
from kemm.errors import KemmError

logger = logging.getLogger(__name__)

#: under ``sparse: "auto"`` a table with more rows than this gets sparse gradients. Measured with
#: TransE dim 128, batch 256 on one CPU thread: dense Adam costs a step about 1.3 us per row, sparse
#: tables a fixed ~2 ms more than dense ones on a small table; they break even near 1,600 rows
#: (UMLS' 135 entities stay dense, WordNet's 112k are 8x faster sparse).
SPARSE_AUTO_ROWS = 2000


def resolve_sparse(option: bool | str, rows: int) -> bool:
    """Whether a table of ``rows`` rows gets sparse gradients under ``option`` (True, False or ``"auto"``)."""
    if option == "auto":
        return rows > SPARSE_AUTO_ROWS
    if isinstance(option, bool):
        return option
    raise KemmError(f"sparse must be true, false or 'auto', got {option!r}")


class ShallowModel(KGEModel):
    """Entity and relation lookup tables plus an interaction function.

    Subclasses implement :meth:`interaction` on broadcastable embedding tensors and the vectorised
    1-vs-all forms :meth:`score_t` / :meth:`score_h`. A sparse table (``config.sparse: true``, or
    ``"auto"``, the default, and more than :data:`SPARSE_AUTO_ROWS` rows) produces sparse gradients,
    which the ``adam`` optimiser updates row by row, so a step costs O(batch), not O(table).

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
        sparse = self.config.sparse
        self.entity = nn.Embedding(
            num_entities, dim * self.entity_width, sparse=resolve_sparse(sparse, num_entities)
        )
        self.relation = nn.Embedding(
            num_relations, dim * self.relation_width, sparse=resolve_sparse(sparse, num_relations)
        )
        self._warned_full_sparse = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Score of broadcastable embeddings ``(..., d)`` -> ``(...)``."""
        raise NotImplementedError

    def _entity_rows(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Entity vectors as the interaction sees them (subclasses may normalise)."""
        return self._entity_table() if idx is None else self.entity(idx)

    def _entity_table(self) -> torch.Tensor:
        """All entity rows ``(N, D)``, as the 1-vs-all forms score against them.

        Under autograd (1-vs-all training) a sparse table is looked up whole, so that its gradient
        stays sparse for the sparse optimiser; every row then moves every step, which a dense
        table (``sparse: false``) does more cheaply.
        """
        w = self.entity.weight
        if not (self.entity.sparse and torch.is_grad_enabled() and w.requires_grad):
            return w
        if not self._warned_full_sparse:
            logger.warning(
                "1-vs-all training of a sparse %d-row entity table: every row gets a gradient; "
                "set sparse: false in model_kwargs, it is cheaper",
                len(w),
            )
            self._warned_full_sparse = True
        return self.entity(torch.arange(len(w), device=w.device))

    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self._entity_rows(torch.cat([h, t]))  # (2B, D): one look-up, one sparse gradient
        return self.interaction(e[: len(h)], self.relation(r), e[len(h) :])  # (B,)

    def regularization_terms(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        return [self.entity(h), self.relation(r), self.entity(t)]

    def entity_embeddings(self) -> torch.Tensor:
        return self._entity_rows().detach()

    def relation_embeddings(self) -> torch.Tensor:
        return self.relation.weight.detach()

    def extra_repr(self) -> str:
        return f"num_entities={self.num_entities}, num_relations={self.num_relations}, config={self.config}"


def pairwise_distances(q: torch.Tensor, table: torch.Tensor, p: int) -> torch.Tensor:
    """``(B, N)`` ``p``-norm distances from each query ``(B, D)`` to each row of ``table`` ``(N, D)``.

    L1 without autograd, on CPU, goes through faiss's SIMD kernel on as many threads as torch
    uses (1.7x ``torch.cdist`` on one thread); the rest is ``torch.cdist``, whose L2 is a matmul.
    """
    no_grad = not (torch.is_grad_enabled() and (q.requires_grad or table.requires_grad))
    if p == 1 and no_grad and q.device.type == "cpu" and q.dtype == table.dtype == torch.float32:
        import faiss

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(torch.get_num_threads())
        try:
            d = faiss.pairwise_distances(
                q.detach().contiguous().numpy(), table.detach().contiguous().numpy(), faiss.METRIC_L1
            )
        finally:
            faiss.omp_set_num_threads(threads)
        return torch.from_numpy(d)
    return torch.cdist(q, table, p=p)


def split_complex(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., 2d)`` packed as ``[re | im]`` -> ``(re, im)``, each ``(..., d)``."""
    d = x.shape[-1] // 2
    return x[..., :d], x[..., d:]
