"""Detecting the KG's pictured entities in an image: template matching against the KG's own pictures.

A KG can say what an entity looks like: the bundled commonsense KG gives each picturable concept an
emoji (``cs:emoji``), whose sprite ships in ``kemm/data/assets/emoji``. :class:`PictureDetector`
turns those pictures into a detector with no training and no annotation: every picture, at several
sizes and mirrored, is slid over the image, and a position scores the mean squared difference
between the image and the picture over the picture's *opaque* pixels only (any background passes
through), computed for all pictures of one size at once as two convolutions
(``sum_M I^2 - 2 sum_M T I + sum_M T^2``). Greedy non-maximum suppression keeps the best matches.

It finds entities never seen in any training image (held-out entities) as well as seen ones, which
a region classifier trained on the training images cannot; its errors are measured against the
ground truth (:func:`detection_quality`), and the VQA fine-tuning reports its links as
``predicted``, never as oracle. A real dataset brings a real detector (:class:`kemm.linking.HFDetector`).

Shapes: ``K`` pictures x sizes x mirrors per size group, image ``(3, S, S)`` at ``work_size`` ``S``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kemm.data import Box, ObjectAnnotation
from kemm.errors import KemmError

logger = logging.getLogger(__name__)

#: Longest side of a template as a fraction of the image side: geometric steps over the sizes
#: the bundled scenes draw objects at (0.22-0.75 of the image side).
DEFAULT_SIZES = tuple(float(x) for x in np.geomspace(0.2, 0.8, 13).round(3))


@dataclass(frozen=True)
class Detection:
    """One detected picture: the entity key, its box in image pixels, the unexplained share of the
    image's spread under the picture's mask (``ratio``, 0 = perfect) and the RMS difference (0-255)."""

    entity: str
    box: Box
    ratio: float
    rms: float

    def annotation(self, label: str = "") -> ObjectAnnotation:
        """As a kemm :class:`~kemm.data.ObjectAnnotation` (score = 1 - ratio)."""
        return ObjectAnnotation(
            box=self.box, label=label or self.entity, score=1.0 - self.ratio, entity=self.entity
        )


class PictureDetector:
    """Finds pictured entities in images by masked template matching (see the module docstring).

    Args:
        pictures: entity key -> RGBA picture ``(H, W, 4)`` uint8 (alpha > 127 is the object).
        sizes: template sizes, longest side as a fraction of the image side.
        work_size: images are matched at this side, in pixels (smaller is faster).
        threshold: a match counts when the share of the image's spread under the picture that
            it leaves unexplained (``sum (I - T)^2 / sum (I - mean I)^2`` over the mask) is below
            this; matches are ranked by it.
        max_rms: ... and its RMS colour difference (0-255) is below this.
        min_pixels: ... and the picture covers at least this many pixels at ``work_size`` (a
            small or thin template fits an edge of anything).
        max_objects: detections kept per image.
        iou: a match overlapping a kept detection by more than this IoU is dropped.
        mirror: also match each picture mirrored left-right.
    """

    def __init__(
        self,
        pictures: dict[str, np.ndarray],
        sizes: Sequence[float] = DEFAULT_SIZES,
        work_size: int = 48,
        threshold: float = 0.8,
        max_rms: float = 30.0,
        min_pixels: int = 80,
        max_objects: int = 4,
        iou: float = 0.3,
        mirror: bool = True,
    ) -> None:
        if not pictures:
            raise KemmError("a picture detector needs at least one picture")
        if work_size < 8 or not sizes or any(not 0.0 < s <= 1.0 for s in sizes):
            raise KemmError(f"picture detector: bad work_size {work_size} or sizes {list(sizes)}")
        self.keys = sorted(pictures)
        self.work_size = work_size
        self.threshold, self.max_rms, self.min_pixels = threshold, max_rms, min_pixels
        self.max_objects, self.iou = max_objects, iou
        self.groups = [self._group(pictures, s, mirror) for s in sizes]

    @classmethod
    def from_kg(cls, kg: Any, sprite_dir: str | Path | None = None, **options: Any) -> PictureDetector:
        """A detector of every entity the KG pictures (its ``emoji`` attribute) whose sprite is in
        ``sprite_dir`` (default: the shipped ones); an entity without one is not detectable (counted
        in a warning)."""
        from kemm.data.benchmark.knowledge import BenchmarkKnowledge
        from kemm.data.benchmark.sprites import ASSET_DIR, load_sprites, sprite_name

        folder = Path(sprite_dir) if sprite_dir is not None else ASSET_DIR
        knowledge = BenchmarkKnowledge.from_kg(kg)
        have = {k: e for k, e in knowledge.emoji.items() if (folder / f"{sprite_name(e)}.png").is_file()}
        if len(have) < len(knowledge.emoji):
            logger.warning(
                "picture detector: %d of %d pictured entities have no sprite in %s and cannot be detected",
                len(knowledge.emoji) - len(have),
                len(knowledge.emoji),
                folder,
            )
        if not have:
            raise KemmError(f"picture detector: no sprite in {folder} for any entity the KG pictures")
        sprites = load_sprites(have.values(), folder)
        return cls({k: sprites[e].rgba for k, e in have.items()}, **options)

    def _group(self, pictures: dict[str, np.ndarray], size: float, mirror: bool) -> dict[str, Any]:
        """The templates of one size, padded to one shape: masks, masked colours and their energy."""
        from PIL import Image

        side = max(4, round(size * self.work_size))
        temps: list[tuple[int, np.ndarray]] = []
        for k, key in enumerate(self.keys):
            rgba = pictures[key]
            h, w = rgba.shape[:2]
            f = side / max(h, w)
            img = Image.fromarray(rgba, "RGBA").convert("RGBa")
            img = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS)
            arr = np.asarray(img.convert("RGBA"), dtype=np.float32)
            temps.append((k, arr))
            if mirror:
                temps.append((k, arr[:, ::-1].copy()))
        hh = max(a.shape[0] for _, a in temps)
        ww = max(a.shape[1] for _, a in temps)
        mask = torch.zeros(len(temps), 1, hh, ww)
        colour = torch.zeros(len(temps), 3, hh, ww)
        for i, (_, a) in enumerate(temps):
            m = torch.from_numpy(a[..., 3] > 127).float()
            mask[i, 0, : a.shape[0], : a.shape[1]] = m
            colour[i, :, : a.shape[0], : a.shape[1]] = torch.from_numpy(a[..., :3]).permute(2, 0, 1) * m
        return {
            "entity": torch.tensor([k for k, _ in temps]),
            "mask": mask,  # (T, 1, hh, ww)
            "mask3": mask.expand(-1, 3, -1, -1).contiguous(),  # (T, 3, hh, ww)
            "colour": colour,  # (T, 3, hh, ww): the masked template
            "energy": (colour**2).sum((1, 2, 3)),  # (T,)
            "pixels": mask.sum((1, 2, 3)).clamp_min(1.0),  # (T,) pixels under the mask
            "extent": [
                (int(m.sum(1).nonzero().max()) + 1, int(m.sum(0).nonzero().max()) + 1) for m in mask[:, 0]
            ],
        }

    @torch.no_grad()
    def detect(self, image: np.ndarray | Any) -> list[Detection]:
        """The detections of one image (an RGB array ``(H, W, 3)`` or a PIL image), best first."""
        from PIL import Image

        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
        pil = pil.convert("RGB")
        width, height = pil.size
        s = self.work_size
        small = np.asarray(pil.resize((s, s), Image.Resampling.BILINEAR), dtype=np.float32)
        x = torch.from_numpy(small).permute(2, 0, 1)[None]  # (1, 3, S, S)
        cands: list[tuple] = []  # (ratio, entity, x, y, w, h, rms) in work pixels
        for g in self.groups:
            hh, ww = g["colour"].shape[-2:]
            if hh > s or ww > s:
                continue
            img_energy = F.conv2d(x * x, g["mask3"])[0]  # (T, H', W'): sum_M I^2
            cross = F.conv2d(x, g["colour"])[0]  # (T, H', W'): sum_M T I
            sums = F.conv2d(x.transpose(0, 1), g["mask"])  # (3, T, H', W'): sum_M I per channel
            n = g["pixels"][:, None, None]  # (T, 1, 1)
            sse = img_energy - 2 * cross + g["energy"][:, None, None]  # (T, H', W')
            # the image's own spread under the mask: a flat patch has none to explain
            spread = img_energy - (sums**2).sum(0) / n  # (T, H', W')
            ratio = sse / spread.clamp_min(n * 3 * 1e-2)  # (T, H', W'): 1 - R^2 of the fit
            ratio = ratio.masked_fill(n < self.min_pixels, float("inf"))
            best, where = ratio.flatten(1).min(1)  # (T,)
            sse_best = sse.flatten(1).gather(1, where[:, None])[:, 0]  # (T,)
            rms = (sse_best / (3.0 * g["pixels"])).clamp_min(0.0).sqrt()  # (T,) over colour values
            cols = ratio.shape[-1]
            ok = torch.isfinite(best).nonzero().flatten().tolist()
            for t, r, e, pos, q in zip(
                ok, best[ok].tolist(), g["entity"][ok].tolist(), where[ok].tolist(), rms[ok].tolist()
            ):
                h, w = g["extent"][t]
                py, px = divmod(pos, cols)
                cands.append((r, e, px, py, w, h, q))
        cands.sort()
        kept: list[tuple] = []
        for c in cands:
            if c[0] >= self.threshold or len(kept) >= self.max_objects:
                break
            if c[6] < self.max_rms and all(_iou(c[2:6], k[2:6]) <= self.iou for k in kept):
                kept.append(c)
        sx, sy = width / s, height / s
        return [
            Detection(self.keys[e], Box(px * sx, py * sy, w * sx, h * sy), ratio, rms)
            for ratio, e, px, py, w, h, rms in kept
        ]


def coco_results(found: Mapping[Any, Sequence[Detection]], kg: Any) -> list[dict[str, Any]]:
    """Detections per image id as COCO detection results (``image_id``, ``category_id`` = the
    entity's KG id, ``bbox`` ``[x, y, w, h]``, ``score`` = 1 - ratio), each with its ``entity`` key."""
    return [
        {
            "image_id": image_id,
            "category_id": int(kg.entity_id(d.entity)),
            "bbox": [d.box.x, d.box.y, d.box.w, d.box.h],
            "score": round(1.0 - d.ratio, 4),
            "entity": d.entity,
        }
        for image_id, dets in found.items()
        for d in dets
    ]


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def detection_quality(
    detected: Sequence[Sequence[Detection]], truth: Sequence[Sequence[ObjectAnnotation]], iou: float = 0.5
) -> dict[str, float]:
    """Precision and recall of the detected entities against the ground-truth objects, per image:
    ``entity`` counts a detected entity that the image holds; ``box`` also needs IoU >= ``iou``."""
    tp_ent = found = tp_box = n_det = n_true = 0
    for dets, objs in zip(detected, truth):
        n_det += len(dets)
        n_true += len(objs)
        keys = [o.entity for o in objs]
        tp_ent += sum(d.entity in keys for d in dets)
        found += sum(k in {d.entity for d in dets} for k in keys)
        used: set[int] = set()
        for d in dets:
            for j, o in enumerate(objs):
                if j not in used and o.entity == d.entity:
                    ob = (o.box.x, o.box.y, o.box.w, o.box.h)
                    if _iou((d.box.x, d.box.y, d.box.w, d.box.h), ob) >= iou:
                        used.add(j)
                        tp_box += 1
                        break
    return {
        "images": float(len(truth)),
        "objects": float(n_true),
        "detections": float(n_det),
        "entity_precision": tp_ent / n_det if n_det else 0.0,
        "entity_recall": found / n_true if n_true else 0.0,
        "box_precision": tp_box / n_det if n_det else 0.0,
        "box_recall": tp_box / n_true if n_true else 0.0,
    }
