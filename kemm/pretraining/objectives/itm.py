"""``itm``: image-text matching with hard negatives (ALBEF, Li et al., 2021).

Each real pair is a positive. For every text one negative image, and for every image one negative
text, is sampled from the softmax of the contrastive similarities (``ctx.cache["itc"]``; uniform
when ``itc`` is off) with every same-image pair's weight set to zero, so a negative is never a
caption of the same image (:func:`sample_hard_negatives`). The 2B negative pairs go through the
model in one pass; a two-way classifier on the joint [CLS] state scores all 3B pairs.

A pair's knowledge is its text's text mentions and its image's object-region mentions
(:func:`pair_knowledge`), so a negative pair carries no mention of the other half.

Shapes: similarities (B, B); negative indices (B,); joint [CLS] (3B, D) -> logits (3B, 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from kemm.models.heads import ITMHead
from kemm.models.knowledge import REGION, TEXT, KnowledgeBatch
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
    pool,
)


@dataclass
class ITMConfig(ObjectiveConfig):
    """Options of :class:`ImageTextMatching`.

    Attributes:
        hard_negatives: sample negatives from the contrastive similarities (ALBEF); False: uniformly
            among the other images' pairs.
        pooling: ``"cls"`` (ALBEF: the joint [CLS] state) or ``"mean"`` (the mean over the joint sequence).
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    hard_negatives: bool = True
    pooling: Literal["cls", "mean"] = "cls"


def sample_hard_negatives(
    sim: torch.Tensor, image_ids: torch.Tensor, generator: torch.Generator, hard: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """One negative column per row, drawn from ``softmax(sim)`` with same-image columns at zero.

    Args:
        sim: ``(B, B)`` row i's similarity to column j (text i x image j, or image i x text j).
        image_ids: ``(B,)``; columns with row i's image id are never drawn for row i.
        generator: a CPU generator (the engine's), so a resumed run draws the same negatives.
        hard: False: uniform over the allowed columns.

    Returns:
        ``(index, valid)``, both ``(B,)``: the drawn column, and whether row i had any allowed column
        (a batch of one image has none; its rows must be dropped from the loss).
    """
    sim = sim.detach().float().cpu()
    ids = image_ids.cpu()
    same = ids[:, None] == ids[None, :]  # (B, B)
    weights = F.softmax(sim, dim=1) + 1e-5 if hard else torch.ones_like(sim)  # ALBEF's + 1e-5
    weights = weights.masked_fill(same, 0.0)
    valid = ~same.all(1)  # (B,)
    weights[~valid] = 1.0  # anything; dropped by the caller
    index = torch.multinomial(weights, 1, generator=generator).squeeze(1)  # (B,)
    return index.to(image_ids.device), valid.to(image_ids.device)


def _select_mentions(kb: KnowledgeBatch, rows: torch.Tensor, source: int) -> dict[str, torch.Tensor]:
    keep = kb.mention_mask[rows] & (kb.mention_source[rows] == source)  # (B', M)
    out = {
        k: getattr(kb, k)[rows]
        for k in ("entity_ids", "mention_source", "mention_start", "mention_end", "mention_region")
    }
    out["mention_mask"] = keep
    out["candidate_ids"] = kb.candidate_ids[rows]
    out["candidate_priors"] = kb.candidate_priors[rows]
    return out


def pair_knowledge(kb: KnowledgeBatch, text_rows: torch.Tensor, image_rows: torch.Tensor) -> KnowledgeBatch:
    """Knowledge of the pairs (text ``text_rows[i]``, image ``image_rows[i]``): the text mentions of
    the text's example and the region mentions of the image's example (``M`` doubles), and the
    text's subgraph."""
    t = _select_mentions(kb, text_rows, TEXT)
    v = _select_mentions(kb, image_rows, REGION)
    fields = {k: torch.cat([t[k], v[k]], dim=1) for k in t}  # (B', 2M, ...)
    graph = None
    if kb.graph is not None:
        from torch_geometric.data import Batch

        g = kb.graph
        graph = Batch.from_data_list([g.get_example(int(i)) for i in text_rows.tolist()])  # type: ignore[attr-defined]
        graph.context_index = graph.ptr[1:] - 1
        graph = graph.to(kb.device)
    return KnowledgeBatch(graph=graph, **fields)


def pair_batch(batch: PretrainBatch, text_rows: torch.Tensor, image_rows: torch.Tensor) -> PretrainBatch:
    """The batch of pairs (text ``text_rows[i]``, image ``image_rows[i]``)."""

    def img(x: torch.Tensor | None) -> torch.Tensor | None:
        return x[image_rows] if x is not None else None

    return PretrainBatch(
        input_ids=batch.input_ids[text_rows],
        attention_mask=batch.attention_mask[text_rows],
        pixel_values=batch.pixel_values[image_rows],
        image_ids=batch.image_ids[image_rows],
        knowledge=pair_knowledge(batch.knowledge, text_rows, image_rows),
        boxes=img(batch.boxes),
        region_mask=img(batch.region_mask),
        region_entity=img(batch.region_entity),
    )


@OBJECTIVES.register("itm", aliases=("matching", "image-text-matching"))
class ImageTextMatching(Objective):
    """Image-text matching with contrastive hard negatives; see the module docstring."""

    config_class = ITMConfig

    def __init__(self, config: ITMConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        self.head = ITMHead(host.hidden_size)

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        batch = ctx.batch
        b = batch.batch_size
        ids = batch.image_ids
        itc = ctx.cache.get("itc")
        if itc is not None:
            sim_t2i, sim_i2t = itc["sim_t2i"], itc["sim_i2t"]
        else:
            sim_t2i = sim_i2t = torch.zeros(b, b, device=ids.device)
        hard = self.config.hard_negatives and itc is not None
        neg_img, ok_t = sample_hard_negatives(sim_t2i, ids, ctx.generator, hard)  # image for each text
        neg_txt, ok_i = sample_hard_negatives(sim_i2t, ids, ctx.generator, hard)  # text for each image
        rows = torch.arange(b, device=ids.device)
        neg = pair_batch(batch, torch.cat([rows, neg_txt]), torch.cat([neg_img, rows]))  # 2B pairs
        how = self.config.pooling
        clean = ctx.clean()
        neg_out = ctx.model(**neg.model_inputs())
        pos_cls = pool(clean.last_hidden_state, clean.attention_mask, how)  # (B, D)
        neg_cls = pool(neg_out.last_hidden_state, neg_out.attention_mask, how)  # (2B, D)
        logits = self.head(torch.cat([pos_cls, neg_cls], dim=0)).float()  # (3B, 2)
        labels = torch.cat([torch.ones(b), torch.zeros(2 * b)]).long().to(logits.device)
        keep = torch.cat([torch.ones(b, dtype=torch.bool, device=ids.device), ok_t, ok_i])
        loss = F.cross_entropy(logits[keep], labels[keep])
        acc = (logits[keep].argmax(1) == labels[keep]).float().mean()
        return ObjectiveOutput(loss, {"acc/itm": float(acc)})
