"""Bar charts for evaluation reports, drawn with PIL (matplotlib is not a kemm dependency).

One chart type serves every report plot: grouped horizontal bars with error bars, one group per
category (a fusion module, a relation) and one bar per series (a setting, seen/held-out), on a
fixed ``[0, 1]`` axis, with optional vertical reference lines (chance, train prior).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kemm.utils.io import atomic_write

#: series colours (colour-blind safe, Okabe & Ito) and reference-line colours
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
LINE_COLOURS = ("#555555", "#B22222", "#6A3D9A")


@dataclass(frozen=True)
class Bar:
    """One bar: ``mean`` in [0, 1] and its ``std`` (0 for a single seed)."""

    mean: float
    std: float = 0.0


def bar_chart(
    path: str | Path,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[Bar | None]],
    xlabel: str = "accuracy",
    lines: dict[str, float] | None = None,
    width: int = 760,
) -> Path:
    """Draw grouped horizontal bars to the PNG ``path`` (written atomically).

    Args:
        categories: group labels, top to bottom.
        series: series name -> one bar per category (None: no bar).
        lines: reference name -> x value, drawn as dashed vertical lines and named in the legend.
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=13)
    big = ImageFont.load_default(size=16)
    lines = lines or {}
    n_series = max(len(series), 1)
    bar_h, gap = 14, 12
    group_h = n_series * bar_h + gap
    label_w = min(220, 12 + max((int(font.getlength(c)) for c in categories), default=40))
    left, right, top = label_w + 10, 30, 40
    legend_rows = len(series) + len(lines)
    height = top + len(categories) * group_h + 40 + 18 * legend_rows + 10
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 10), title, fill="black", font=big)
    plot_w = width - left - right
    bottom = top + len(categories) * group_h

    def x_of(v: float) -> float:
        return left + max(0.0, min(1.0, v)) * plot_w

    for k in range(11):  # grid and axis ticks every 10 %
        x = x_of(k / 10)
        d.line([(x, top), (x, bottom)], fill="#E5E5E5" if k else "black")
        d.text((x - 8, bottom + 4), f"{k * 10}", fill="black", font=font)
    d.text((left + plot_w / 2 - 40, bottom + 20), f"{xlabel} (%)", fill="black", font=font)
    for ci, cat in enumerate(categories):
        y0 = top + ci * group_h + gap / 2
        text = (
            cat
            if font.getlength(cat) <= label_w - 12
            else cat[: max(3, int(len(cat) * (label_w - 12) / font.getlength(cat)) - 1)] + "…"
        )
        d.text((8, y0 + (n_series * bar_h) / 2 - 7), text, fill="black", font=font)
        for si, bars in enumerate(series.values()):
            bar = bars[ci] if ci < len(bars) else None
            if bar is None:
                continue
            y = y0 + si * bar_h
            d.rectangle([(x_of(0), y + 1), (x_of(bar.mean), y + bar_h - 1)], fill=COLOURS[si % len(COLOURS)])
            if bar.std > 0:
                lo, hi, mid = x_of(bar.mean - bar.std), x_of(bar.mean + bar.std), y + bar_h / 2
                d.line([(lo, mid), (hi, mid)], fill="black", width=1)
                d.line([(lo, mid - 3), (lo, mid + 3)], fill="black")
                d.line([(hi, mid - 3), (hi, mid + 3)], fill="black")
    for li, value in enumerate(lines.values()):
        x = x_of(value)
        for y in range(top, bottom, 8):  # dashed
            d.line([(x, y), (x, min(y + 4, bottom))], fill=LINE_COLOURS[li % len(LINE_COLOURS)], width=2)
    y = bottom + 40
    for si, name in enumerate(series):
        d.rectangle([(left, y + 2), (left + 12, y + 12)], fill=COLOURS[si % len(COLOURS)])
        d.text((left + 18, y), name, fill="black", font=font)
        y += 18
    for li, (name, value) in enumerate(lines.items()):
        d.line([(left, y + 7), (left + 12, y + 7)], fill=LINE_COLOURS[li % len(LINE_COLOURS)], width=2)
        d.text((left + 18, y), f"{name} ({value * 100:.1f} %)", fill="black", font=font)
        y += 18
    path = Path(path)
    with atomic_write(path, "wb") as f:
        img.save(f, format="PNG")
    return path
