"""``masked-objects``: masked object classification against the KG entity table (UNITER's MRC, with
KG entities as the classes).

Of the object regions that have an entity, each is masked with probability ``probability`` (at
least one per batch when any exists): its pixels inside the box are set to 0 (the normalised mean
colour, so its patches carry nothing) and its region mention, if the knowledge has one, loses its
entity (and candidates), so neither the image nor the knowledge gives the answer away. The masked
region's joint state predicts the object's entity among all ``num_entities`` with
:class:`kemm.models.heads.ObjectClassificationHead`: the logit of entity ``k`` is ``proj(h) . e_k``
with ``e_k`` the model's entity vector, so entities the objective never saw as labels (held-out
ones) can still be scored through their KG embedding.

Shapes: pixel_values (B, 3, H, W); boxes (B, R, 4); region states (B, R, D) -> logits (masked, N).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kemm.errors import KemmError
from kemm.models.heads import ObjectClassificationHead
from kemm.models.knowledge import REGION
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
class MaskedObjectsConfig(ObjectiveConfig):
    """Options of :class:`MaskedObjectClassification`.

    Attributes:
        probability: chance that a region with an entity is masked (UNITER: 0.15).
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    probability: float = 0.15


def box_pixel_mask(boxes: torch.Tensor, chosen: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(B, H, W)`` True at the pixels inside any chosen box.

    Shapes: boxes (B, R, 4) ``(x0, y0, x1, y1)`` pixels; chosen (B, R) bool.
    """
    ys = torch.arange(height, dtype=torch.float)[None, None, :, None] + 0.5  # (1, 1, H, 1)
    xs = torch.arange(width, dtype=torch.float)[None, None, None, :] + 0.5  # (1, 1, 1, W)
    b = boxes.float()[..., None, None]  # (B, R, 4, 1, 1)
    inside = (xs >= b[:, :, 0]) & (xs < b[:, :, 2]) & (ys >= b[:, :, 1]) & (ys < b[:, :, 3])  # (B, R, H, W)
    return (inside & chosen[..., None, None]).any(1)


def mask_regions(batch: PretrainBatch, chosen: torch.Tensor) -> PretrainBatch:
    """``batch`` with the ``chosen`` ``(B, R)`` regions blanked (pixels set to 0) and their region
    mentions stripped of entity and candidates."""
    assert batch.boxes is not None
    h, w = batch.pixel_values.shape[-2:]
    pix = box_pixel_mask(batch.boxes, chosen, h, w)  # (B, H, W)
    pixels = batch.pixel_values.masked_fill(pix[:, None], 0.0)
    kb = batch.knowledge
    hit = torch.zeros_like(kb.mention_mask)
    if kb.num_mentions:
        r = kb.mention_region.clamp_min(0)  # (B, M)
        hit = (kb.mention_source == REGION) & (kb.mention_region >= 0) & chosen.gather(1, r)
    knowledge = dataclasses.replace(
        kb,
        entity_ids=kb.entity_ids.masked_fill(hit, -1),
        candidate_ids=kb.candidate_ids.masked_fill(hit[..., None], -1),
        candidate_priors=kb.candidate_priors.masked_fill(hit[..., None], 0.0),
    )
    return batch.replace(pixel_values=pixels, knowledge=knowledge)


@OBJECTIVES.register("masked-objects", aliases=("moc", "masked-object-classification"))
class MaskedObjectClassification(Objective):
    """Masked object classification; see the module docstring. Targets: ``moc_mask`` (B, R)."""

    config_class = MaskedObjectsConfig

    def __init__(self, config: MaskedObjectsConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        if not host.num_entities:
            raise KemmError("masked-objects needs a KG entity table (num_entities > 0)")
        self.head = ObjectClassificationHead(host.hidden_size, host.entity_dim)

    def corrupt(self, batch: PretrainBatch, generator: torch.Generator) -> PretrainBatch:
        if batch.boxes is None or batch.region_entity is None or batch.region_mask is None:
            return batch
        has = (batch.region_entity >= 0) & batch.region_mask.bool()  # (B, R)
        draw = torch.rand(has.shape, generator=generator) < self.config.probability
        chosen = has & draw
        if bool(has.any()) and not bool(chosen.any()):  # at least one region per batch
            flat = has.flatten().nonzero().squeeze(1)
            pick = flat[torch.randint(len(flat), (1,), generator=generator)]
            chosen = chosen.flatten().index_fill(0, pick, True).view_as(chosen)
        out = mask_regions(batch, chosen)
        out.targets["moc_mask"] = chosen
        return out

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        chosen = ctx.corrupted_batch.targets.get("moc_mask")
        out = ctx.corrupted()
        if chosen is None or not bool(chosen.any()) or out.region_hidden is None:
            like = out.last_hidden_state
            return ObjectiveOutput(zero_loss(self, like), {})
        assert ctx.batch.region_entity is not None
        target = ctx.batch.region_entity[chosen]  # (N,)
        logits = self.head(out.region_hidden[chosen], ctx.model.entities).float()  # (N, num_entities)
        loss = F.cross_entropy(logits, target)
        acc = (logits.argmax(1) == target).float().mean()
        return ObjectiveOutput(loss, {"acc/masked_objects": float(acc)})
