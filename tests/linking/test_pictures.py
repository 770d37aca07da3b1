"""The KG-picture detector: finds pasted pictures on any background, nothing on an empty image."""

from __future__ import annotations

import numpy as np
import pytest

from kemm.data import Box, ObjectAnnotation
from kemm.errors import KemmError
from kemm.linking.pictures import PictureDetector, detection_quality


def _pictures() -> dict[str, np.ndarray]:
    """Three 24-px RGBA pictures with distinct shapes and colours."""
    yy, xx = np.mgrid[0:24, 0:24]
    out = {}
    disc = (yy - 11.5) ** 2 + (xx - 11.5) ** 2 < 11**2
    ring = disc & ((yy - 11.5) ** 2 + (xx - 11.5) ** 2 > 5**2)
    tri = yy >= xx
    for key, mask, colour in (
        ("disc", disc, (220, 40, 40)),
        ("ring", ring, (40, 60, 220)),
        ("tri", tri, (30, 200, 60)),
    ):
        rgba = np.zeros((24, 24, 4), np.uint8)
        rgba[mask] = (*colour, 255)
        rgba[mask & (xx < 8)] = (250, 230, 40, 255)  # a second colour: structure to match
        out[key] = rgba
    return out


def _paste(canvas: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
    h, w = rgba.shape[:2]
    a = rgba[..., 3:4] / 255.0
    canvas[y : y + h, x : x + w] = canvas[y : y + h, x : x + w] * (1 - a) + rgba[..., :3] * a


def test_finds_each_pasted_picture_on_a_noisy_background():
    rng = np.random.default_rng(0)
    pics = _pictures()
    det = PictureDetector(pics, sizes=(0.25, 0.375), work_size=64, min_pixels=20)
    canvas = rng.normal(128, 10, size=(64, 64, 3))
    _paste(canvas, pics["ring"], 4, 30)
    _paste(canvas, pics["tri"][:, ::-1], 36, 6)  # mirrored
    found = det.detect(np.clip(canvas, 0, 255).astype(np.uint8))
    assert sorted(d.entity for d in found) == ["ring", "tri"]
    ring = next(d for d in found if d.entity == "ring")
    assert abs(ring.box.x - 4) <= 1 and abs(ring.box.y - 30) <= 1 and ring.ratio < 0.3
    truth = [
        ObjectAnnotation(Box(4, 30, 24, 24), "ring", entity="ring"),
        ObjectAnnotation(Box(36, 6, 24, 24), "tri", entity="tri"),
    ]
    q = detection_quality([found], [truth])
    assert q["entity_precision"] == q["entity_recall"] == q["box_recall"] == 1.0
    assert found[0].annotation().entity == found[0].entity


def test_an_image_without_pictures_has_no_detection():
    det = PictureDetector(_pictures(), sizes=(0.25, 0.375), work_size=64, min_pixels=20)
    plain = np.full((64, 64, 3), 128, np.uint8)
    assert det.detect(plain) == []
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::8] = 255
    assert det.detect(stripes) == []


def test_bad_settings():
    with pytest.raises(KemmError, match="at least one picture"):
        PictureDetector({})
    with pytest.raises(KemmError, match="bad work_size"):
        PictureDetector(_pictures(), sizes=(1.5,))


def test_refinement_fits_a_picture_drawn_between_grid_sizes():
    # the grid has 16- and 32-px templates (64-px image); the disc is drawn at 23 px, between them
    from PIL import Image

    pics = _pictures()
    disc = np.asarray(Image.fromarray(pics["disc"], "RGBA").resize((23, 23), Image.Resampling.LANCZOS))
    canvas = np.full((64, 64, 3), 90.0)
    _paste(canvas, disc, 20, 12)
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    loose = {"sizes": (0.25, 0.5), "work_size": 64, "min_pixels": 20, "threshold": 10.0, "max_rms": 1e9}
    coarse = next(d for d in PictureDetector(pics, refine=0, **loose).detect(image) if d.entity == "disc")
    fine = next(d for d in PictureDetector(pics, **loose).detect(image) if d.entity == "disc")
    assert fine.ratio < 0.5 * coarse.ratio
    assert abs(fine.box.w - 23) <= 1.5 and abs(fine.box.x - 20) <= 1 and abs(fine.box.y - 12) <= 1
    assert abs(coarse.box.w - 23) > 1.5  # on the grid alone the box is a grid size


def test_one_detection_per_entity_unless_asked():
    pics = _pictures()
    canvas = np.full((64, 64, 3), 128.0)
    _paste(canvas, pics["ring"], 2, 2)
    _paste(canvas, pics["ring"][:, ::-1], 38, 38)  # each template gives its best place: mirror it
    image = canvas.astype(np.uint8)
    opts = {"sizes": (0.375,), "work_size": 64, "min_pixels": 20}
    assert [d.entity for d in PictureDetector(pics, **opts).detect(image)] == ["ring"]
    assert [d.entity for d in PictureDetector(pics, unique=False, **opts).detect(image)] == ["ring", "ring"]
