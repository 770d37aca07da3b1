"""Sprites: names, the shipped set, extraction from the font (when the machine has it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kemm.data.benchmark.knowledge import EMOJI_PREDICATE
from kemm.data.benchmark.sprites import ASSET_DIR, NOTO_EMOJI_FONT, load_sprites, sprite_name
from kemm.errors import KemmError

from .conftest import TINY_KG, TINY_SPRITES

ROOT = Path(__file__).parents[3]
BUNDLED_KG = ROOT / "knowledge_graphs" / "commonsense" / "commonsense.ttl"
needs_font = pytest.mark.skipif(
    not NOTO_EMOJI_FONT.is_file() or not Path("/usr/share/doc/fonts-noto-color-emoji/copyright").is_file(),
    reason="Noto Color Emoji (fonts-noto-color-emoji) is not installed",
)


def test_sprite_name():
    assert sprite_name("🍎") == "1f34e"
    assert sprite_name("✂️") == "2702-fe0f"
    with pytest.raises(KemmError):
        sprite_name("")


def test_missing_sprite_error_lists_every_missing_file(tmp_path):
    with pytest.raises(
        KemmError, match=r"2 emoji sprite\(s\) missing.*1f34e\.png.*1f34c\.png|1f34c\.png.*1f34e"
    ):
        load_sprites(["🍎", "🍌"], tmp_path)


def test_sprites_are_rgba_and_at_most_96px():
    for p in TINY_SPRITES.glob("*.png"):
        with Image.open(p) as im:
            assert im.mode == "RGBA" and max(im.size) == 96
            alpha = np.asarray(im)[..., 3]
            assert alpha[0].any() or alpha[:, 0].any()  # cropped to content


def test_shipped_sprites_cover_the_bundled_kg():
    if not BUNDLED_KG.is_file():
        pytest.skip("the bundled commonsense KG is not there")
    emoji = set()
    for line in BUNDLED_KG.read_text(encoding="utf-8").splitlines():
        if "cs:emoji" in line or EMOJI_PREDICATE in line:
            emoji.update(part.split('"')[1] for part in line.split("emoji")[1:] if '"' in part)
    assert emoji
    load_sprites(emoji, ASSET_DIR)  # raises naming what is missing
    attribution = (ASSET_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "SIL Open Font License" in attribution and "Noto Color Emoji" in attribution
    assert all(f"`{sprite_name(e)}.png`" in attribution for e in emoji)
    assert "SIL OPEN FONT LICENSE Version 1.1" in (ASSET_DIR / "OFL.txt").read_text(encoding="utf-8")


@needs_font
def test_extract_script_renders_the_kg_emoji(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "extract_emoji_sprites", ROOT / "scripts" / "extract_emoji_sprites.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--kg", str(TINY_KG), "--out", str(tmp_path)]) == 0
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    assert made == sorted(p.name for p in TINY_SPRITES.glob("*.png"))
    with Image.open(tmp_path / "1f34e.png") as a, Image.open(TINY_SPRITES / "1f34e.png") as b:
        assert a.size == b.size
    text = (tmp_path / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "| `1f34e.png` | 🍎 | U+1F34E | apple |" in text
    assert "PERMISSION & CONDITIONS" in (tmp_path / "OFL.txt").read_text(encoding="utf-8")
