"""Emoji sprites: file naming, extraction from Noto Color Emoji, loading the shipped PNGs.

The benchmark draws its objects from RGBA sprites shipped in ``kemm/data/assets/emoji`` (rendered
once from Noto Color Emoji, SIL Open Font License 1.1, by ``scripts/extract_emoji_sprites.py``), so a
machine without the font still builds the benchmark. A sprite's file name is the emoji's code points
in lower-case hex joined by ``-``: ``🍎`` -> ``1f34e.png``, ``✂️`` -> ``2702-fe0f.png``.
"""

from __future__ import annotations

import colorsys
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kemm.errors import KemmError

logger = logging.getLogger(__name__)

#: Where the shipped sprites live.
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "emoji"
#: The Debian ``fonts-noto-color-emoji`` font the sprites are extracted from.
NOTO_EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
#: CBDT bitmap fonts such as Noto Color Emoji only render at their strike size.
NOTO_STRIKE_SIZE = 109
#: Longest side of a shipped sprite, pixels.
SPRITE_MAX_SIDE = 96


def sprite_name(emoji: str) -> str:
    """File stem of an emoji's sprite: its code points in hex joined by ``-`` (``"✂️"`` -> ``"2702-fe0f"``)."""
    if not emoji:
        raise KemmError("empty emoji string")
    return "-".join(f"{ord(c):x}" for c in emoji)


def render_emoji(emoji: str, font: ImageFont.FreeTypeFont, max_side: int = SPRITE_MAX_SIDE) -> Image.Image:
    """Render ``emoji`` with a colour font into an RGBA image cropped to its content.

    Returns an RGBA image whose longer side is ``max_side`` pixels. Raises :class:`KemmError` when
    the font has no glyph for it (nothing opaque is drawn).
    """
    canvas = Image.new("RGBA", (NOTO_STRIKE_SIZE * 3, NOTO_STRIKE_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((8, 8), emoji, font=font, embedded_color=True)
    alpha = np.asarray(canvas)[..., 3]
    ys, xs = np.nonzero(alpha > 8)
    if len(xs) == 0:
        raise KemmError(f"the font draws nothing for {emoji!r} (U+{sprite_name(emoji).upper()})")
    sprite = canvas.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    return resize_rgba(sprite, max_side / max(sprite.size))


def resize_rgba(img: Image.Image, factor: float) -> Image.Image:
    """Resize an RGBA image by ``factor`` with premultiplied alpha (no dark fringes at the edges)."""
    w, h = img.size
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == img.size:
        return img
    return img.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")


# -- colour names -------------------------------------------------------------------------------------
#: Hue ranges in degrees -> colour name (for saturated, not too dark pixels).
_HUES: tuple[tuple[float, float, str], ...] = (
    (0, 20, "red"),
    (20, 40, "orange"),
    (40, 70, "yellow"),
    (70, 165, "green"),
    (165, 255, "blue"),
    (255, 290, "purple"),
    (290, 340, "pink"),
    (340, 361, "red"),
)


def dominant_colour(rgba: np.ndarray, min_share: float = 0.4) -> str | None:
    """Name of the chromatic colour that dominates the opaque pixels of ``rgba``, else ``None``.

    Only chromatic names are returned (red, orange, yellow, green, blue, purple, pink, brown): grey,
    white and black parts are too easily confused with a background to refer to an object by. A
    colour dominates when it covers at least ``min_share`` of the opaque pixels and twice as many as
    the runner-up colour, i.e. when a person would call the object "the red object".

    Args:
        rgba: shape ``(H, W, 4)`` uint8.
    """
    px = rgba[rgba[..., 3] > 128][:, :3].astype(np.float32) / 255.0  # (N, 3)
    if len(px) == 0:
        return None
    mx, mn = px.max(axis=1), px.min(axis=1)
    v = mx
    s = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    d = np.maximum(mx - mn, 1e-6)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60.0
    names = np.full(len(px), "", dtype=object)
    chromatic = (s > 0.35) & (v > 0.3)
    for lo, hi, name in _HUES:
        names[chromatic & (h >= lo) & (h < hi)] = name
    names[chromatic & (h >= 15) & (h < 45) & (v < 0.8)] = "brown"
    values, counts = np.unique(names[names != ""].astype(str), return_counts=True)
    if len(values) == 0:
        return None
    order = np.argsort(-counts, kind="stable")
    best = counts[order[0]]
    runner_up = counts[order[1]] if len(order) > 1 else 0
    if best >= min_share * len(px) and best >= 2 * runner_up:
        return str(values[order[0]])
    return None


# -- the shipped sprites ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sprite:
    """One object's picture.

    Attributes:
        emoji: the emoji string it was rendered from.
        rgba: shape ``(H, W, 4)`` uint8, cropped to content.
        colour: dominant colour name ("red", "yellow", ...) or ``None`` when no colour dominates.
    """

    emoji: str
    rgba: np.ndarray
    colour: str | None

    @property
    def image(self) -> Image.Image:
        return Image.fromarray(self.rgba, "RGBA")


def load_sprites(emojis: Iterable[str], sprite_dir: str | Path | None = None) -> dict[str, Sprite]:
    """Load the sprite of every emoji in ``emojis`` from ``sprite_dir`` (default: the shipped ones).

    Raises :class:`KemmError` naming every missing sprite and the command that extracts them.
    """
    sprite_dir = Path(sprite_dir) if sprite_dir is not None else ASSET_DIR
    wanted = sorted(set(emojis))
    missing = [e for e in wanted if not (sprite_dir / f"{sprite_name(e)}.png").is_file()]
    if missing:
        shown = ", ".join(f"{e} ({sprite_name(e)}.png)" for e in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise KemmError(
            f"{len(missing)} emoji sprite(s) missing from {sprite_dir}: {shown}{more}. Extract them from "
            f"Noto Color Emoji (Debian package fonts-noto-color-emoji) with "
            f"`python scripts/extract_emoji_sprites.py --kg <your KG> --out {sprite_dir}`"
        )
    out: dict[str, Sprite] = {}
    for e in wanted:
        path = sprite_dir / f"{sprite_name(e)}.png"
        try:
            with Image.open(path) as im:
                rgba = np.asarray(im.convert("RGBA")).copy()
        except OSError as err:
            raise KemmError(f"{path}: cannot decode sprite: {err}") from None
        out[e] = Sprite(e, rgba, dominant_colour(rgba))
    logger.debug("loaded %d sprites from %s", len(out), sprite_dir)
    return out


def hsv_to_rgb255(h: float, s: float, v: float) -> tuple[int, int, int]:
    """Helper for backgrounds: HSV in [0, 1] to an RGB byte triple."""
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)
