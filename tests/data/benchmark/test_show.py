"""``render_example`` draws a legible PNG of one example."""

from __future__ import annotations

import pytest
from PIL import Image

from kemm.data.benchmark import render_example
from kemm.errors import InputError, KemmError


@pytest.mark.parametrize(("split", "task"), [("val", "vqa"), ("test", "vqa"), ("train", "image")])
def test_render_example(tiny_benchmark, tmp_path, split, task):
    out = render_example(tiny_benchmark, split=split, index=0, out=tmp_path / "ex.png", task=task)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width >= 128 and im.height > 128  # the image (x2) plus text below


def test_render_example_errors(tiny_benchmark, tmp_path):
    with pytest.raises(KemmError, match="out of range"):
        render_example(tiny_benchmark, split="val", index=10_000, out=tmp_path / "x.png")
    with pytest.raises(KemmError, match="unknown task"):
        render_example(tiny_benchmark, split="val", index=0, out=tmp_path / "x.png", task="nope")
    with pytest.raises(InputError, match="instances_val.json"):
        render_example(tmp_path, split="val", index=0, out=tmp_path / "x.png")
