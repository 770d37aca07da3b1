"""Scene rendering: occlusion bound, boxes of visible pixels, masks, colours, backgrounds."""

from __future__ import annotations

import numpy as np
import pytest

from kemm.data.benchmark.config import SceneConfig
from kemm.data.benchmark.scene import BACKGROUNDS, draw_background, mask_to_rle, render_scene
from kemm.data.benchmark.sprites import dominant_colour, load_sprites

from .conftest import TINY_SPRITES

EMOJI = ["🍎", "🍌", "🔪", "🍴", "🔨", "✂️", "✏️", "📕", "🪑", "🔑", "☂️", "🧀"]


@pytest.fixture(scope="module")
def sprites():
    return load_sprites(EMOJI, TINY_SPRITES)


def test_occlusion_is_bounded_and_boxes_cover_visible_pixels(sprites):
    cfg = SceneConfig(image_size=96, min_visible=0.6)
    rng = np.random.default_rng(0)
    seen_occlusion = False
    for _ in range(30):
        keys = [EMOJI[i] for i in rng.choice(len(EMOJI), 4, replace=False)]
        scene = render_scene(rng, keys, sprites, cfg)
        assert scene.image.shape == (96, 96, 3) and scene.image.dtype == np.uint8
        assert scene.objects[0].key == keys[0]  # the first object is always placed
        owner = np.zeros((96, 96), int)
        for o in scene.objects:
            assert o.visible >= 0.6 - 1e-9 and o.area == o.mask.sum() > 0
            x, y, w, h = o.bbox
            assert o.mask[y : y + h, x : x + w].sum() == o.area
            owner += o.mask
            seen_occlusion |= o.visible < 0.999
        assert owner.max() <= 1  # visible masks are disjoint
    assert seen_occlusion


def test_render_is_deterministic(sprites):
    cfg = SceneConfig(image_size=64)
    a = render_scene(np.random.default_rng(7), EMOJI[:3], sprites, cfg)
    b = render_scene(np.random.default_rng(7), EMOJI[:3], sprites, cfg)
    assert np.array_equal(a.image, b.image) and [o.bbox for o in a.objects] == [o.bbox for o in b.objects]


def test_every_background_kind(sprites):
    kinds = set()
    rng = np.random.default_rng(1)
    for _ in range(40):
        bg, kind = draw_background(rng, 32)
        assert bg.shape == (32, 32, 3) and 0 <= bg.min() and bg.max() <= 255
        kinds.add(kind)
    assert kinds == set(BACKGROUNDS)


def test_rle_is_column_major_and_starts_with_zeros():
    m = np.array([[1, 0], [1, 1]], bool)
    assert mask_to_rle(m) == {"counts": [0, 2, 1, 1], "size": [2, 2]}
    assert mask_to_rle(np.zeros((2, 3), bool)) == {"counts": [6], "size": [2, 3]}


def test_dominant_colour(sprites):
    red = np.zeros((10, 10, 4), np.uint8)
    red[..., 0], red[..., 3] = 220, 255
    assert dominant_colour(red) == "red"
    grey = np.full((10, 10, 4), 128, np.uint8)
    grey[..., 3] = 255
    assert dominant_colour(grey) is None  # achromatic colours are not used to refer to objects
    assert sprites["🍎"].colour == "red" and sprites["☂️"].colour == "blue"
