"""TransE (Bordes et al., 2013): a relation is a translation, ``score = -||h + r - t||_p``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kemm.embeddings.base import register_model
from kemm.embeddings.shallow import ShallowModel, pairwise_distances


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

    def __init__(self, num_entities: int, num_relations: int, config: TransEConfig | None = None) -> None:
        super().__init__(num_entities, num_relations, config)
        self._table_cache: tuple[tuple[int, int], torch.Tensor] | None = None

    def _entity_rows(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        if idx is None and self.config.normalize_entities and not torch.is_grad_enabled():
            return self._normalized_table()
        e = super()._entity_rows(idx)
        return F.normalize(e, dim=-1) if self.config.normalize_entities else e

    def _normalized_table(self) -> torch.Tensor:
        """The normalised entity table, kept until the weights change (evaluation scores many batches)."""
        w = self.entity.weight
        key = (w.data_ptr(), w._version)
        if self._table_cache is None or self._table_cache[0] != key:
            self._table_cache = (key, F.normalize(w.detach(), dim=-1))
        return self._table_cache[1]

    def interaction(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -torch.linalg.vector_norm(h + r - t, ord=self.config.p, dim=-1)

    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.config.p not in (1, 2):
            return super().score_hrt(h, r, t)
        return _TransEScore.apply(
            self.entity.weight,
            self.relation.weight,
            h,
            r,
            t,
            self.config.p,
            self.config.normalize_entities,
            self.entity.sparse,
            self.relation.sparse,
        )  # (B,)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        q = self._entity_rows(h) + self.relation(r)  # (B, D)
        return _negated(pairwise_distances(q, self._entity_rows(), self.config.p))  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        q = self._entity_rows(t) - self.relation(r)  # (B, D): h should land on t - r
        return _negated(pairwise_distances(q, self._entity_rows(), self.config.p))  # (B, N)


def _negated(d: torch.Tensor) -> torch.Tensor:
    """``-d``, in place when no backward needs ``d`` (evaluation: saves a pass over ``(B, N)``)."""
    return -d if d.requires_grad else d.neg_()


class _TransEScore(torch.autograd.Function):
    """``-||e_h + r - e_t||_p`` (``p`` 1 or 2) of table rows, with a hand-written backward.

    The same function and gradient as :meth:`TransE.interaction` on looked-up (and normalised)
    rows, in about half the operations autograd records: one look-up of ``[h; t]``, in-place
    arithmetic, and gradients written straight into one sparse (or index-added dense) tensor per
    table. A training step of TransE is a few dozen small operations, so their number is its cost.
    """

    @staticmethod
    def forward(ctx, ent, rel, h, r, t, p, normalize, ent_sparse, rel_sparse):  # type: ignore[override]
        b = len(h)
        idx = torch.cat([h, t])  # (2B,)
        e = ent.index_select(0, idx)  # (2B, D)
        norm = None
        if normalize:
            norm = torch.linalg.vector_norm(e, dim=-1, keepdim=True).clamp_min_(1e-12)  # (2B, 1)
            e = e.div_(norm)
        u = rel.index_select(0, r).add_(e[:b]).sub_(e[b:])  # (B, D): h + r - t
        score = torch.linalg.vector_norm(u, ord=p, dim=-1).neg_()  # (B,)
        ctx.save_for_backward(idx, r, e, norm, u, score)
        ctx.p, ctx.sparse, ctx.shapes = p, (ent_sparse, rel_sparse), (ent.shape, rel.shape)
        return score

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        idx, r, e, norm, u, score = ctx.saved_tensors
        if ctx.p == 1:
            gu = u.sign().mul_(grad.neg()[:, None])  # (B, D): d(-|u|_1)/du = -sign(u)
        else:
            gu = u.mul((grad / score.clamp_max(-1e-12))[:, None])  # d(-|u|_2)/du = u / score
        ge = torch.cat([gu, -gu])  # (2B, D): gradient of the (normalised) h and t rows
        if norm is not None:  # through e / |e|: (g - e <e, g>) / |e|
            ge = ge.sub_(e * (e * ge).sum(-1, keepdim=True)).div_(norm)
        return (
            _table_grad(idx, ge, ctx.shapes[0], ctx.sparse[0]) if ctx.needs_input_grad[0] else None,
            _table_grad(r, gu, ctx.shapes[1], ctx.sparse[1]) if ctx.needs_input_grad[1] else None,
            *([None] * 7),
        )


def _table_grad(rows: torch.Tensor, values: torch.Tensor, shape: torch.Size, sparse: bool) -> torch.Tensor:
    """The gradient of a ``shape`` table whose ``rows`` got ``values`` (sparse COO, or dense)."""
    if sparse:
        return torch.sparse_coo_tensor(rows[None], values, shape, check_invariants=False)
    return values.new_zeros(shape).index_add_(0, rows, values)
