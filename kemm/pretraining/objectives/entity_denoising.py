"""``entity-denoising``: ERNIE's denoising entity auto-encoder (dEA; Zhang et al., 2019).

Of the text mentions aligned to an entity, each is, independently: with probability
``replace_prob`` (5 %) given a random entity of the KG instead, with ``mask_prob`` (15 %) masked
(no entity, no candidates), and otherwise kept. The fusion module sees the corrupted entities;
the mention's joint state (mean over its tokens) must recover the entity it was linked to, among
the distinct entities linked in the batch (ERNIE predicts among the sequence's entities), with
:class:`kemm.models.heads.EntityPredictionHead`: the logit of candidate ``k`` is ``proj(h) . e_k``
with ``e_k`` the entity vector.

A ``fusion: none`` model runs the same objective from the tokens alone, which is the baseline
the knowledge run must beat.

Shapes: entity_ids (B, M) -> dea_labels (B, M) (-1: not a target); mention states (N, D) ->
logits (N, C) over the batch's C distinct entities.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from kemm.errors import KemmError
from kemm.models.heads import EntityPredictionHead
from kemm.models.knowledge import TEXT, KnowledgeBatch
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
    zero_loss,
)


@dataclass
class EntityDenoisingConfig(ObjectiveConfig):
    """Options of :class:`EntityDenoising`.

    Attributes:
        replace_prob: chance that an aligned mention gets a random entity (ERNIE: 0.05).
        mask_prob: chance that it is masked (ERNIE: 0.15); the rest keep their entity.
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    replace_prob: float = 0.05
    mask_prob: float = 0.15

    def __post_init__(self) -> None:
        if self.replace_prob < 0 or self.mask_prob < 0 or self.replace_prob + self.mask_prob > 1:
            raise KemmError("entity-denoising: replace_prob and mask_prob must be >= 0 and sum to at most 1")


def aligned_text_mentions(kb: KnowledgeBatch) -> torch.Tensor:
    """``(B, M)`` True for a real text mention linked to an entity."""
    return kb.mention_mask & (kb.mention_source == TEXT) & (kb.entity_ids >= 0) & (kb.mention_start >= 0)


def corrupt_entities(
    kb: KnowledgeBatch, num_entities: int, generator: torch.Generator, replace_prob: float, mask_prob: float
) -> tuple[KnowledgeBatch, torch.Tensor, torch.Tensor]:
    """dEA's corruption of the aligned text mentions.

    Returns:
        ``(corrupted, labels, kind)``: labels ``(B, M)`` the original entity of each aligned mention
        (-1 elsewhere); kind ``(B, M)`` 0 kept, 1 replaced, 2 masked, -1 not aligned.
    """
    aligned = aligned_text_mentions(kb)  # (B, M)
    u = torch.rand(aligned.shape, generator=generator)
    replaced = aligned & (u < replace_prob)
    masked = aligned & (u >= replace_prob) & (u < replace_prob + mask_prob)
    random_ids = torch.randint(num_entities, aligned.shape, generator=generator)
    ids = torch.where(replaced, random_ids, kb.entity_ids).masked_fill(masked, -1)
    changed = (replaced | masked)[..., None]  # (B, M, 1)
    cand = kb.candidate_ids.masked_fill(changed, -1)
    cand[..., 0] = torch.where(replaced, random_ids, cand[..., 0])  # a replaced mention's one candidate
    prior = kb.candidate_priors.masked_fill(changed, 0.0)
    prior[..., 0] = torch.where(replaced, torch.ones_like(prior[..., 0]), prior[..., 0])
    corrupted = dataclasses.replace(kb, entity_ids=ids, candidate_ids=cand, candidate_priors=prior)
    labels = kb.entity_ids.masked_fill(~aligned, -1)
    kind = torch.full(aligned.shape, -1, dtype=torch.long)
    kind[aligned] = 0
    kind[replaced] = 1
    kind[masked] = 2
    return corrupted, labels, kind


def mention_states(text_hidden: torch.Tensor, kb: KnowledgeBatch) -> torch.Tensor:
    """``(B, L, D)`` token states -> ``(B, M, D)``: the mean over each text mention's tokens."""
    length = text_hidden.shape[1]
    pos = torch.arange(length, device=text_hidden.device)  # (L,)
    cover = (pos >= kb.mention_start[..., None]) & (pos < kb.mention_end[..., None])  # (B, M, L)
    cover = cover.to(text_hidden.dtype)
    return cover @ text_hidden / cover.sum(-1, keepdim=True).clamp_min(1.0)  # (B, M, D)


@OBJECTIVES.register("entity-denoising", aliases=("dea", "denoising-entity-autoencoder"))
class EntityDenoising(Objective):
    """ERNIE's dEA; see the module docstring. Targets: ``dea_labels`` (B, M), ``dea_kind`` (B, M)."""

    config_class = EntityDenoisingConfig

    def __init__(self, config: EntityDenoisingConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        if not host.num_entities:
            raise KemmError("entity-denoising needs a KG entity table (num_entities > 0)")
        self.head = EntityPredictionHead(host.hidden_size, host.entity_dim)

    def corrupt(self, batch: PretrainBatch, generator: torch.Generator) -> PretrainBatch:
        c = self.config
        kb, labels, kind = corrupt_entities(
            batch.knowledge, self.host.num_entities, generator, c.replace_prob, c.mask_prob
        )
        out = batch.replace(knowledge=kb)
        out.targets["dea_labels"] = labels
        out.targets["dea_kind"] = kind
        return out

    def predict(self, text_hidden: torch.Tensor, kb: KnowledgeBatch, labels: torch.Tensor, entities: Any):
        """``(logits (N, C), target (N,), where (B, M))``: scores of the aligned mentions over the
        batch's distinct linked entities (``entities``: the model's entity table)."""
        where = labels >= 0  # (B, M)
        cands = torch.unique(labels[where])  # (C,) sorted
        reps = mention_states(text_hidden, kb)[where]  # (N, D)
        logits = self.head(reps[None], cands, entities)[0].float()  # (N, C)
        target = torch.searchsorted(cands, labels[where])  # (N,)
        return logits, target, where

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        labels = ctx.corrupted_batch.targets["dea_labels"]
        out = ctx.corrupted()
        if not bool((labels >= 0).any()):
            return ObjectiveOutput(zero_loss(self, out.text_hidden), {})
        logits, target, _ = self.predict(out.text_hidden, ctx.batch.knowledge, labels, ctx.model.entities)
        loss = F.cross_entropy(logits, target)
        acc = (logits.argmax(1) == target).float().mean()
        return ObjectiveOutput(loss, {"acc/entity_denoising": float(acc)})
