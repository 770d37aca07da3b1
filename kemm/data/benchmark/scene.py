"""Drawing one benchmark image: a random background with 1-4 emoji objects, occlusion kept bounded.

Objects are pasted in order, each later one on top; a placement is rejected when it would leave an
earlier object less than ``min_visible`` of its pixels, so every object stays recognisable. Boxes,
areas and masks describe the *visible* pixels, as COCO's do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from kemm.data.benchmark.config import SceneConfig
from kemm.data.benchmark.sprites import Sprite, hsv_to_rgb255, resize_rgba

BACKGROUNDS: tuple[str, ...] = ("solid", "gradient", "noise", "stripes")


@dataclass(frozen=True)
class PlacedObject:
    """One object as drawn.

    Attributes:
        key: KG entity key of the object.
        bbox: ``(x, y, width, height)`` of its visible pixels, COCO convention (top-left origin).
        area: number of visible pixels.
        visible: visible pixels / pixels of the unoccluded sprite, in ``[min_visible, 1]``.
        mask: shape ``(H, W)`` bool, its visible pixels.
        colour: dominant colour name of its sprite, or ``None``.
    """

    key: str
    bbox: tuple[int, int, int, int]
    area: int
    visible: float
    mask: np.ndarray
    colour: str | None

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.bbox
        return x + w / 2.0, y + h / 2.0


@dataclass(frozen=True)
class Scene:
    """A rendered image and the objects in it (in paste order, bottom first).

    Attributes:
        image: shape ``(H, W, 3)`` uint8.
        objects: the objects that were placed; fewer than asked when one found no placement.
        background: which kind of background was drawn (one of :data:`BACKGROUNDS`).
    """

    image: np.ndarray
    objects: list[PlacedObject]
    background: str


def draw_background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """A random background, shape ``(size, size, 3)`` float32 in [0, 255], and its kind."""
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]

    def colour() -> np.ndarray:
        h, s, v = rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.35, 1.0)
        return np.asarray(hsv_to_rgb255(h, s, v), dtype=np.float32)

    if kind == "solid":
        return np.broadcast_to(colour(), (size, size, 3)).astype(np.float32), kind
    if kind == "gradient":
        a, b = colour(), colour()
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
        t = xx * np.cos(theta) + yy * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)  # (H, W) in [0, 1]
        return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32), kind
    if kind == "noise":
        # value noise: a coarse random grid upsampled bicubically, mapped between two colours
        a, b = colour(), colour()
        cells = int(rng.integers(3, 9))
        grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
        t = np.asarray(Image.fromarray(grid, "L").resize((size, size), Image.Resampling.BICUBIC), np.float32)
        t = t / 255.0
        return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32), kind
    # stripes: low-contrast bands at a random angle and period
    a = colour()
    b = np.clip(a + rng.uniform(-40, 40, size=3), 0, 255).astype(np.float32)
    theta = rng.uniform(0, np.pi)
    period = rng.uniform(size / 16, size / 4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    t = ((xx * np.cos(theta) + yy * np.sin(theta)) // (period / 2)) % 2
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32), kind


def render_scene(
    rng: np.random.Generator, keys: list[str], sprites: dict[str, Sprite], config: SceneConfig
) -> Scene:
    """Draw the objects ``keys`` (their sprites in ``sprites``) on a random background.

    The first object is always placed; a later one is dropped when ``placement_tries`` random
    placements all occlude some earlier object beyond ``config.min_visible``.
    """
    size = config.image_size
    canvas, kind = draw_background(rng, size)
    canvas = canvas.copy()
    owner = np.full((size, size), -1, dtype=np.int16)  # (H, W) index of the topmost object
    full: list[int] = []
    placed: list[str] = []
    lo, hi = config.scale_range[min(len(keys), len(config.scale_range)) - 1]
    for key in keys:
        sprite = sprites[key]
        target = rng.uniform(lo, hi) * size
        img = resize_rgba(sprite.image, target / max(sprite.image.size))
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        rgba = np.asarray(img, dtype=np.float32)  # (h, w, 4)
        h, w = rgba.shape[:2]
        h, w = min(h, size), min(w, size)
        rgba = rgba[:h, :w]
        mask = rgba[..., 3] > 127  # (h, w)
        n = len(placed)
        for _ in range(config.placement_tries):
            x = int(rng.integers(0, size - w + 1))
            y = int(rng.integers(0, size - h + 1))
            region = owner[y : y + h, x : x + w]
            covered = np.bincount(region[mask & (region >= 0)], minlength=n) if n else np.zeros(0, int)
            visible = np.bincount(owner[owner >= 0], minlength=n) - covered if n else np.zeros(0, int)
            if n == 0 or all(visible[i] >= config.min_visible * full[i] for i in range(n)):
                break
        else:
            continue  # no placement keeps every earlier object recognisable: drop this one
        alpha = rgba[..., 3:4] / 255.0  # (h, w, 1)
        patch = canvas[y : y + h, x : x + w]
        canvas[y : y + h, x : x + w] = patch * (1 - alpha) + rgba[..., :3] * alpha
        owner[y : y + h, x : x + w][mask] = n
        full.append(int(mask.sum()))
        placed.append(key)
    sigma = rng.uniform(0.0, config.noise_sigma)
    if sigma > 0:
        canvas += rng.normal(0.0, sigma, size=canvas.shape).astype(np.float32)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    objects = []
    for i, key in enumerate(placed):
        m = owner == i
        ys, xs = np.nonzero(m)
        bbox = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        area = int(m.sum())
        objects.append(PlacedObject(key, bbox, area, area / full[i], m, sprites[key].colour))
    return Scene(image, objects, kind)


def mask_to_rle(mask: np.ndarray) -> dict[str, list[int]]:
    """COCO uncompressed RLE of a binary mask: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [len(flat)]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0, *counts]
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}
