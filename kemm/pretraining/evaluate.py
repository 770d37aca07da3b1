"""Validation metrics of a pre-training run (every figure through :mod:`kemm.evaluation.metrics`).

* ``valid/t2i_r1``, ``valid/t2i_r5``: text-to-image retrieval over the distinct validation images
  with the contrastive embeddings (each caption's own image is the target; realistic ranks, so
  ties never help); ``valid/t2i_chance`` is 1 / the number of candidate images.
* ``valid/moc_acc_seen`` / ``valid/moc_acc_heldout``: masked object classification, one region
  masked at a time over every validation region with an entity, split by whether the entity is
  held out (``data.heldout_entities``).
* ``valid/dea_acc`` (every aligned mention) and ``valid/dea_acc_masked`` (the masked ones): entity
  denoising with the training corruption drawn from a fixed seed, so every validation (and the
  ``fusion: none`` twin) sees the same corrupted mentions. ``valid/dea_acc_hidden``: the same, with
  every text mention's tokens replaced by [MASK], so the entity can only come from the (corrupted)
  knowledge, the image and the rest of the caption: the share that a model reads its knowledge.
* ``valid/t2i_r1_links``, ``valid/t2i_r5_links``: the same retrieval by the links alone, no model:
  a caption's linked entities against each image's region entities (Jaccard overlap), what
  knowledge could give retrieval (with ``data.valid_objects: detected``, predicted links).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch.utils.data import DataLoader

from kemm.evaluation.metrics import hits_at_k, realistic_rank
from kemm.models.knowledge import REGION, TEXT, KnowledgeBatch
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives import StepContext
from kemm.pretraining.objectives.entity_denoising import corrupt_entities
from kemm.pretraining.objectives.masked_objects import mask_regions

logger = logging.getLogger(__name__)

#: seed of the validation's own corruption (the same at every validation and in every run)
VALID_SEED = 1234


class PretrainEvaluator:
    """``evaluator(task, ctx) -> metrics`` for :class:`kemm.pretraining.task.PretrainTask`.

    Args:
        heldout: entity ids reported apart in masked object classification.
        batch_size: validation pairs per batch; max_pairs: use the first this many (None: all).
        ks: the k of recall@k.
    """

    def __init__(
        self, heldout: set[int], batch_size: int, max_pairs: int | None = None, ks: list[int] | None = None
    ):
        self.heldout = heldout
        self.batch_size = batch_size
        self.max_pairs = max_pairs
        self.ks = ks or [1, 5]

    def __call__(self, task: Any, ctx: Any) -> dict[str, float]:
        dataset = task.valid
        n = len(dataset) if self.max_pairs is None else min(len(dataset), self.max_pairs)
        subset = torch.utils.data.Subset(dataset, range(n))
        loader = DataLoader(subset, batch_size=self.batch_size, shuffle=False, collate_fn=task.collator)
        model = task.model.backbone
        objs = task.objectives
        gen = torch.Generator().manual_seed(VALID_SEED)
        texts: list[torch.Tensor] = []
        images: dict[int, torch.Tensor] = {}
        caption_image: list[int] = []
        moc = {"seen": [0, 0], "heldout": [0, 0]}
        dea = {"all": [0, 0], "masked": [0, 0], "hidden": [0, 0]}
        seen_images: set[int] = set()
        text_entities: list[set[int]] = []
        image_entities: dict[int, set[int]] = {}
        for batch in loader:
            dev = batch.to(ctx.device)
            text_entities += _entity_sets(batch.knowledge, TEXT)
            for img, ents in zip(batch.image_ids.tolist(), _entity_sets(batch.knowledge, REGION)):
                image_entities.setdefault(img, ents)
            if "itc" in objs:
                step = StepContext(model, dev, dev, gen)
                how, know = objs["itc"].config.pooling, objs["itc"].config.image_knowledge
                t, v = objs["itc"].embed(step.text_features(how), step.image_features(how, know))
                texts.append(t.float().cpu())
                for i, img in enumerate(batch.image_ids.tolist()):
                    images.setdefault(img, v[i].float().cpu())
                caption_image += batch.image_ids.tolist()
            if "entity-denoising" in objs:
                self._dea(objs["entity-denoising"], model, batch, gen, ctx.device, dea)
                mask_id = getattr(objs["entity-denoising"].host.tokenizer, "mask_token_id", None)
                if mask_id is not None:
                    self._dea(objs["entity-denoising"], model, batch, gen, ctx.device, dea, mask_id)
            if "masked-objects" in objs and batch.boxes is not None:
                self._moc(objs["masked-objects"], model, batch, seen_images, ctx.device, moc)
        metrics: dict[str, float] = {}
        if texts:
            image_ids = sorted(images)
            col = {img: j for j, img in enumerate(image_ids)}
            sim = torch.cat(texts) @ torch.stack([images[i] for i in image_ids]).T  # (captions, images)
            ranks = realistic_rank(sim, torch.tensor([col[i] for i in caption_image]))
            for k in self.ks:
                metrics[f"valid/t2i_r{k}"] = hits_at_k(ranks, k)
            metrics["valid/t2i_chance"] = 1.0 / len(image_ids)
            # the links alone, no model: Jaccard overlap of a caption's entities and an image's
            overlap = torch.tensor(
                [[_jaccard(t, image_entities.get(i, set())) for i in image_ids] for t in text_entities]
            )
            ranks = realistic_rank(overlap, torch.tensor([col[i] for i in caption_image]))
            for k in self.ks:
                metrics[f"valid/t2i_r{k}_links"] = hits_at_k(ranks, k)
        for part, (right, total) in moc.items():
            if total:
                metrics[f"valid/moc_acc_{part}"] = right / total
        if dea["all"][1]:
            metrics["valid/dea_acc"] = dea["all"][0] / dea["all"][1]
        if dea["masked"][1]:
            metrics["valid/dea_acc_masked"] = dea["masked"][0] / dea["masked"][1]
        if dea["hidden"][1]:
            metrics["valid/dea_acc_hidden"] = dea["hidden"][0] / dea["hidden"][1]
        return metrics

    def _dea(
        self,
        obj: Any,
        model: Any,
        batch: PretrainBatch,
        gen: torch.Generator,
        device: Any,
        acc: dict,
        hide_with: int | None = None,
    ) -> None:
        c = obj.config
        kb, labels, kind = corrupt_entities(
            batch.knowledge, obj.host.num_entities, gen, c.replace_prob, c.mask_prob
        )
        if not bool((labels >= 0).any()):
            return
        view = batch.replace(knowledge=kb)
        if hide_with is not None:  # every aligned mention's tokens become [MASK]
            k0 = batch.knowledge
            pos = torch.arange(batch.input_ids.shape[1])  # (L,)
            cover = (pos >= k0.mention_start[..., None]) & (pos < k0.mention_end[..., None])  # (B, M, L)
            cover = (cover & (labels >= 0)[..., None]).any(1)  # (B, L)
            view = view.replace(input_ids=batch.input_ids.masked_fill(cover, hide_with))
        out = model(**view.to(device).model_inputs())
        logits, target, where = obj.predict(
            out.text_hidden, batch.knowledge.to(device), labels.to(device), model.entities
        )
        right = (logits.argmax(1) == target).cpu()
        if hide_with is not None:
            acc["hidden"][0] += int(right.sum())
            acc["hidden"][1] += len(right)
            return
        masked = kind[where.cpu()] == 2
        acc["all"][0] += int(right.sum())
        acc["all"][1] += len(right)
        acc["masked"][0] += int(right[masked].sum())
        acc["masked"][1] += int(masked.sum())

    def _moc(
        self, obj: Any, model: Any, batch: PretrainBatch, seen: set[int], device: Any, acc: dict
    ) -> None:
        """Each region with an entity of each image not yet evaluated, masked alone (with the image's
        first caption in this batch)."""
        assert batch.region_entity is not None and batch.region_mask is not None
        rows, regions = [], []
        for i, img in enumerate(batch.image_ids.tolist()):
            if img in seen:
                continue
            seen.add(img)
            for r in range(batch.region_entity.shape[1]):
                if batch.region_mask[i, r] and batch.region_entity[i, r] >= 0:
                    rows.append(i)
                    regions.append(r)
        if not rows:
            return
        idx = torch.tensor(rows)
        sub = _select(batch, idx)
        chosen = torch.zeros_like(sub.region_mask, dtype=torch.bool)  # type: ignore[arg-type]
        chosen[torch.arange(len(rows)), torch.tensor(regions)] = True
        masked = mask_regions(sub, chosen).to(device)
        out = model(**masked.model_inputs())
        logits = obj.head(out.region_hidden[chosen.to(device)], model.entities)  # (N, num_entities)
        target = sub.region_entity[chosen]  # type: ignore[index]
        right = (logits.argmax(1).cpu() == target).tolist()
        for ok, e in zip(right, target.tolist()):
            part = acc["heldout" if e in self.heldout else "seen"]
            part[0] += int(ok)
            part[1] += 1


def _select(batch: PretrainBatch, rows: torch.Tensor) -> PretrainBatch:
    """Rows of a batch (pairs repeated as needed), with their knowledge."""
    from kemm.pretraining.objectives.itm import pair_batch

    return pair_batch(batch, rows, rows)


def _entity_sets(kb: KnowledgeBatch, source: int) -> list[set[int]]:
    """Per example, the entities of its linked mentions from ``source`` (TEXT or REGION)."""
    keep = kb.only(source).mention_mask & (kb.entity_ids >= 0)  # (B, M)
    return [set(row[k].tolist()) for row, k in zip(kb.entity_ids, keep)]


def _jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
