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
        refine: the best this many matches of the size grid are searched again at the sizes
            between grid steps and one pixel around, before the thresholds are applied (an object
            drawn between two grid sizes fits neither well at its edges); 0 turns it off.
        unique: keep one detection per entity, its best (a second box of an entity links to
            nothing new and would take a ``max_objects`` slot).
    """

    def __init__(
        self,
        pictures: dict[str, np.ndarray],
        sizes: Sequence[float] = DEFAULT_SIZES,
        work_size: int = 64,
        threshold: float = 0.8,
        max_rms: float = 30.0,
        min_pixels: int = 80,
        max_objects: int = 4,
        iou: float = 0.3,
        mirror: bool = True,
        refine: int = 24,
        unique: bool = True,
    ) -> None:
        if not pictures:
            raise KemmError("a picture detector needs at least one picture")
        if work_size < 8 or not sizes or any(not 0.0 < s <= 1.0 for s in sizes):
            raise KemmError(f"picture detector: bad work_size {work_size} or sizes {list(sizes)}")
        self.keys = sorted(pictures)
        self.pictures = pictures
        self.work_size = work_size
        self.threshold, self.max_rms, self.min_pixels = threshold, max_rms, min_pixels
        self.max_objects, self.iou = max_objects, iou
        self.refine, self.unique = refine, unique
        sides = sorted({max(4, round(s * work_size)) for s in sizes})
        # the refined sizes: half a grid step either side (the grid's own ratio, or 6 % for one size)
        step = float(np.exp(np.mean(np.diff(np.log(sides))))) if len(sides) > 1 else 1.12
        self.half_step = float(np.sqrt(step))
        self._resized: dict[tuple[int, int, bool], np.ndarray] = {}
        mirrors = (False, True) if mirror else (False,)
        self.groups = [
            self._stack([(k, side, m) for k in range(len(self.keys)) for m in mirrors]) for side in sides
        ]

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

    def _picture(self, k: int, side: int, mirrored: bool) -> np.ndarray:
        """Picture ``k`` with its longest side ``side`` pixels (mirrored), RGBA float ``(h, w, 4)``."""
        key = (k, side, mirrored)
        if key not in self._resized:
            from PIL import Image

            rgba = self.pictures[self.keys[k]]
            h, w = rgba.shape[:2]
            f = side / max(h, w)
            img = Image.fromarray(rgba, "RGBA").convert("RGBa")  # premultiplied: no dark fringes
            img = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS)
            arr = np.asarray(img.convert("RGBA"), dtype=np.float32)
            self._resized[key] = arr[:, ::-1].copy() if mirrored else arr
        return self._resized[key]

    def _stack(self, which: Sequence[tuple[int, int, bool]]) -> dict[str, Any]:
        """Templates ``(picture, side, mirrored)`` padded to one shape: masks, masked colours and
        their energy, ready for :meth:`_match`."""
        arrs = [self._picture(*t) for t in which]
        hh = max(a.shape[0] for a in arrs)
        ww = max(a.shape[1] for a in arrs)
        mask = torch.zeros(len(arrs), 1, hh, ww)
        colour = torch.zeros(len(arrs), 3, hh, ww)
        for i, a in enumerate(arrs):
            m = torch.from_numpy(a[..., 3] > 127).float()
            mask[i, 0, : a.shape[0], : a.shape[1]] = m
            colour[i, :, : a.shape[0], : a.shape[1]] = torch.from_numpy(a[..., :3]).permute(2, 0, 1) * m
        return {
            "which": list(which),
            "entity": torch.tensor([k for k, _, _ in which]),
            "mask": mask,  # (T, 1, hh, ww)
            "mask3": mask.expand(-1, 3, -1, -1).contiguous(),  # (T, 3, hh, ww)
            "colour": colour,  # (T, 3, hh, ww): the masked template
            "energy": (colour**2).sum((1, 2, 3)),  # (T,)
            "pixels": mask.sum((1, 2, 3)).clamp_min(1.0),  # (T,) pixels under the mask
            "extent": [_extent(m) for m in mask[:, 0]],
        }

    def _match(self, x: torch.Tensor, g: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each template's best position in ``x`` ``(1, 3, H, W)``: its ratio, flat position and
        RMS, each ``(T,)`` (ratio ``inf`` where the template is too small or does not fit)."""
        hh, ww = g["colour"].shape[-2:]
        if hh > x.shape[-2] or ww > x.shape[-1]:
            inf = torch.full((len(g["which"]),), float("inf"))
            return inf, torch.zeros_like(inf, dtype=torch.long), inf
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
        return best, where, rms

    def _refined(self, x: torch.Tensor, c: tuple) -> tuple:
        """Candidate ``c`` searched again at half a grid step either side, its box centre kept to
        within two pixels."""
        _, k, px, py, w0, h0, _, side, mirrored = c
        sides = {max(4, round(side / self.half_step)), side, max(4, round(side * self.half_step))}
        g = self._stack([(k, s, mirrored) for s in sorted(sides)])
        hh, ww = g["colour"].shape[-2:]
        s = x.shape[-1]
        if hh > s or ww > s:
            return c
        # the window: the largest template centred on the candidate's box, two pixels either side
        x0 = min(max(0, int(px + w0 / 2 - ww / 2) - 2), s - ww)
        y0 = min(max(0, int(py + h0 / 2 - hh / 2) - 2), s - hh)
        x1, y1 = min(s, x0 + ww + 4), min(s, y0 + hh + 4)
        best, where, rms = self._match(x[..., y0:y1, x0:x1], g)
        t = int(best.argmin())
        if not torch.isfinite(best[t]) or float(best[t]) >= c[0]:
            return c
        h, w = g["extent"][t]
        dy, dx = divmod(int(where[t]), x1 - x0 - ww + 1)
        return (float(best[t]), k, x0 + dx, y0 + dy, w, h, float(rms[t]), g["which"][t][1], mirrored)

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
        # (ratio, entity, x, y, w, h, rms, side, mirrored) in work pixels
        cands: list[tuple] = []
        for g in self.groups:
            best, where, rms = self._match(x, g)
            cols = s - g["colour"].shape[-1] + 1
            ok = torch.isfinite(best).nonzero().flatten().tolist()
            for t, r, pos, q in zip(ok, best[ok].tolist(), where[ok].tolist(), rms[ok].tolist()):
                k, side, mirrored = g["which"][t]
                h, w = g["extent"][t]
                py, px = divmod(pos, cols)
                cands.append((r, k, px, py, w, h, q, side, mirrored))
        cands.sort()
        if self.refine:
            cands = sorted([self._refined(x, c) for c in cands[: self.refine]] + cands[self.refine :])
        kept: list[tuple] = []
        for c in cands:
            if c[0] >= self.threshold or len(kept) >= self.max_objects:
                break
            if self.unique and any(k[1] == c[1] for k in kept):
                continue
            if c[6] < self.max_rms and all(_iou(c[2:6], k[2:6]) <= self.iou for k in kept):
                kept.append(c)
        sx, sy = width / s, height / s
        return [
            Detection(self.keys[e], Box(px * sx, py * sy, w * sx, h * sy), ratio, rms)
            for ratio, e, px, py, w, h, rms, _, _ in kept
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


def _extent(mask: torch.Tensor) -> tuple[int, int]:
    """Height and width of the box from the origin to a mask's last set pixel ((1, 1) when empty)."""
    rows, cols = mask.sum(1).nonzero(), mask.sum(0).nonzero()
    return (int(rows.max()) + 1, int(cols.max()) + 1) if len(rows) else (1, 1)


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
