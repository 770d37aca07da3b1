"""``itc``: image-text contrastive learning (InfoNCE in both directions, ALBEF / CLIP).

Unimodal [CLS] states are projected and normalised; ``sim_i2t = v @ t.T / temp``. The targets
follow ALBEF's image-id version: every pair of the same image is a positive (the bundled
benchmark and COCO have five captions per image), each row's targets spread evenly over its
positives, so two captions of one image are never each other's negatives. The temperature is
learnable and clamped to ``[min_temperature, max_temperature]`` before each step (ALBEF: 0.001,
0.5). Under DDP the features (with their gradients, ``torch.distributed.nn.functional.all_gather``)
and the image ids are gathered from every rank, so each rank contrasts against the global batch.

Shapes: text / image features (B, D) -> embeddings (B, E); similarities (B, B x world).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
)


@dataclass
class ITCConfig(ObjectiveConfig):
    """Options of :class:`ImageTextContrastive`.

    Attributes:
        embed_dim: size of the shared embedding space (ALBEF: 256).
        temperature: initial temperature (ALBEF: 0.07).
        min_temperature, max_temperature: the clamp applied before every step (ALBEF: 0.001, 0.5).
        gather: under DDP, contrast against the features of every rank (default True).
        pooling: ``"cls"`` (ALBEF: the [CLS] states) or ``"mean"`` (the mean over the text's tokens
            and the image's patches; a randomly initialised text tower's [CLS] state hardly depends
            on the text, so a tower trained from scratch learns much faster from the mean).
        image_knowledge: the image side is the image with its object regions and the entities
            they are linked to, through the joint stack (as the text side is the text with its
            text mentions' entities); False (ALBEF): the vision encoder alone. A ``fusion: none``
            model runs the same path with the regions and no entities.
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    embed_dim: int = 256
    temperature: float = 0.07
    min_temperature: float = 0.001
    max_temperature: float = 0.5
    gather: bool = True
    pooling: Literal["cls", "mean"] = "cls"
    image_knowledge: bool = False


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` -> ``(B x world, ...)``, rank order, gradients flowing back to each rank's share
    (the input itself when torch.distributed is not initialised)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


def gather_ids(ids: torch.Tensor) -> torch.Tensor:
    """``(B,)`` integer ids of every rank concatenated (no gradient)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return ids
    out = [torch.empty_like(ids) for _ in range(dist.get_world_size())]
    dist.all_gather(out, ids)
    return torch.cat(out)


def same_image_targets(row_ids: torch.Tensor, col_ids: torch.Tensor) -> torch.Tensor:
    """``(B,)`` x ``(N,)`` image ids -> ``(B, N)`` soft targets: 1 / (positives of the row) at every
    column of the same image, 0 elsewhere (ALBEF's ``idx``-based targets)."""
    pos = (row_ids[:, None] == col_ids[None, :]).float()  # (B, N)
    return pos / pos.sum(1, keepdim=True).clamp_min(1.0)


def contrastive_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    image_ids: torch.Tensor,
    temperature: torch.Tensor,
    gather: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """InfoNCE in both directions with same-image positives.

    Args:
        image_embeds, text_embeds: ``(B, E)`` unit vectors of this rank (pair ``i`` is row ``i`` of both).
        image_ids: ``(B,)``; pairs with the same id are positives of each other.
        temperature: scalar.
        gather: contrast against every rank's features (when torch.distributed is initialised).

    Returns:
        ``(loss, sim_i2t, sim_t2i)``, the similarities ``(B, B x world)`` (logits, before softmax).
    """
    ids_all = gather_ids(image_ids) if gather else image_ids
    img_all = gather_with_grad(image_embeds) if gather else image_embeds  # (N, E)
    txt_all = gather_with_grad(text_embeds) if gather else text_embeds
    sim_i2t = image_embeds @ txt_all.T / temperature  # (B, N)
    sim_t2i = text_embeds @ img_all.T / temperature  # (B, N)
    targets = same_image_targets(image_ids, ids_all)  # (B, N), the same both ways
    loss_i2t = -(F.log_softmax(sim_i2t, dim=1) * targets).sum(1).mean()
    loss_t2i = -(F.log_softmax(sim_t2i, dim=1) * targets).sum(1).mean()
    return (loss_i2t + loss_t2i) / 2, sim_i2t, sim_t2i


@OBJECTIVES.register("itc", aliases=("contrastive", "image-text-contrastive"))
class ImageTextContrastive(Objective):
    """Image-text contrastive loss; see the module docstring.

    Leaves ``ctx.cache["itc"]``: ``sim_t2i`` / ``sim_i2t`` ``(B, B)`` of this rank's pairs (detached),
    which ``itm`` samples its hard negatives from.
    """

    config_class = ITCConfig

    def __init__(self, config: ITCConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        c = self.config
        self.text_proj = nn.Linear(host.hidden_size, c.embed_dim)
        self.vision_proj = nn.Linear(host.hidden_size, c.embed_dim)
        self.temp = nn.Parameter(torch.tensor(float(c.temperature)))

    def embed(
        self, text_features: torch.Tensor, image_features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, D)`` [CLS] states -> ``(B, E)`` unit text and image embeddings (retrieval uses these)."""
        t = F.normalize(self.text_proj(text_features), dim=-1)  # (B, E)
        v = F.normalize(self.vision_proj(image_features), dim=-1)  # (B, E)
        return t, v

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        c = self.config
        with torch.no_grad():
            self.temp.clamp_(c.min_temperature, c.max_temperature)
        t, v = self.embed(ctx.text_features(c.pooling), ctx.image_features(c.pooling, c.image_knowledge))
        ids = ctx.batch.image_ids
        loss, sim_i2t, sim_t2i = contrastive_loss(v.float(), t.float(), ids, self.temp, c.gather)
        b = ids.shape[0]
        # this rank's columns (rank-major order of the gather)
        rank = _rank() if c.gather else 0
        local = slice(rank * b, (rank + 1) * b)
        ctx.cache["itc"] = {
            "sim_t2i": sim_t2i[:, local].detach(),
            "sim_i2t": sim_i2t[:, local].detach(),
        }
        with torch.no_grad():
            best = sim_t2i.argmax(1)
            ids_all = gather_ids(ids) if c.gather else ids
            acc = (ids_all[best] == ids).float().mean()
        return ObjectiveOutput(
            loss, {"acc/itc_t2i": float(acc), "itc/temperature": float(self.temp.detach())}
        )


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
