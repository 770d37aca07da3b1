"""Loss curves as PNG files, drawn with Pillow (matplotlib is not a kemm dependency).

:func:`write_loss_curves` draws one PNG per logged series (``loss/itc`` -> ``curves/loss_itc.png``):
the raw per-step values in light grey, a moving average in blue, axes with the step and value range.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

WIDTH, HEIGHT, MARGIN = 640, 360, 48


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def draw_curve(steps: Sequence[int], values: Sequence[float], title: str, path: str | Path) -> Path:
    """One line plot of ``values`` against ``steps`` written to ``path`` (PNG)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = MARGIN, MARGIN // 2, WIDTH - MARGIN // 2, HEIGHT - MARGIN
    d.rectangle([x0, y0, x1, y1], outline="black")
    d.text((x0, 4), title, fill="black")
    if values:
        lo, hi = min(values), max(values)
        hi = hi if hi > lo else lo + 1.0
        s0, s1 = steps[0], max(steps[-1], steps[0] + 1)

        def xy(s: float, v: float) -> tuple[float, float]:
            return x0 + (s - s0) / (s1 - s0) * (x1 - x0), y1 - (v - lo) / (hi - lo) * (y1 - y0)

        raw = [xy(s, v) for s, v in zip(steps, values)]
        smooth = [xy(s, v) for s, v in zip(steps, _smooth(values, max(1, len(values) // 50)))]
        if len(raw) > 1:
            d.line(raw, fill=(200, 200, 200), width=1)
            d.line(smooth, fill=(31, 119, 180), width=2)
        else:
            d.ellipse([raw[0][0] - 2, raw[0][1] - 2, raw[0][0] + 2, raw[0][1] + 2], fill=(31, 119, 180))
        d.text((4, y0), f"{hi:.3g}", fill="black")
        d.text((4, y1 - 10), f"{lo:.3g}", fill="black")
        d.text((x0, y1 + 4), f"step {s0}", fill="black")
        d.text((x1 - 70, y1 + 4), f"step {s1}", fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def write_loss_curves(history: Sequence[dict], directory: str | Path, prefix: str = "loss/") -> list[Path]:
    """Draw every ``prefix*`` series of ``history`` (``[{"step": 1, "loss/itc": 2.3, ...}, ...]``)."""
    keys = sorted({k for row in history for k in row if k.startswith(prefix) or k == "loss"})
    out = []
    for k in keys:
        pts = [(int(row["step"]), float(row[k])) for row in history if k in row]
        name = k.replace("/", "_")
        out.append(draw_curve([s for s, _ in pts], [v for _, v in pts], k, Path(directory) / f"{name}.png"))
    return out
