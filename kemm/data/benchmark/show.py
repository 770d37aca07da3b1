"""Render one benchmark example to a PNG: the image with its boxes and labels, the question, the answers."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from kemm.errors import InputError, KemmError

_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
)
_BOX = (230, 40, 40)
_SUBJECT = (20, 200, 60)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for p in _FONT_PATHS:
        if Path(p).is_file():
            return ImageFont.truetype(p, size)
    return ImageFont.load_default(size=size)


def _load(path: Path) -> Any:
    if not path.is_file():
        raise InputError(
            "not found; is this a benchmark directory written by `kemm data make-benchmark`?", path
        )
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", path, e.lineno) from None


def render_example(
    bench_dir: str | Path,
    split: str = "val",
    index: int = 0,
    out: str | Path = "example.png",
    task: str = "vqa",
    scale: int = 2,
) -> Path:
    """Draw example ``index`` of ``split`` to the PNG ``out`` and return its path.

    Args:
        task: ``"vqa"``: the ``index``-th OK-VQA question, its image (the object asked about boxed in
            green), the answers with their votes and the KG fact; ``"image"``: the ``index``-th image
            with its boxes and captions.
        scale: the image is enlarged by this factor so labels stay legible.
    """
    bench_dir = Path(bench_dir)
    instances = _load(bench_dir / "annotations" / f"instances_{split}.json")
    captions = _load(bench_dir / "annotations" / f"captions_{split}.json")
    images = {im["id"]: im for im in instances["images"]}
    lines: list[tuple[str, tuple[int, int, int]]] = []
    subject = None
    if task == "vqa":
        qs = _load(bench_dir / "okvqa" / f"OpenEnded_kemm_{split}_questions.json")["questions"]
        anns = {
            a["question_id"]: a
            for a in _load(bench_dir / "okvqa" / f"kemm_{split}_annotations.json")["annotations"]
        }
        if not 0 <= index < len(qs):
            raise KemmError(f"{split} has {len(qs)} VQA questions; index {index} is out of range")
        q = qs[index]
        ann = anns.get(q["question_id"])
        if ann is None:
            raise KemmError(f"question {q['question_id']} has no annotation in kemm_{split}_annotations.json")
        image = images[q["image_id"]]
        votes = Counter(a["answer"] for a in ann["answers"])
        kemm = ann.get("kemm", {})
        subject = kemm.get("subject")
        lines.append((f"Q: {q['question']}", (0, 0, 0)))
        lines.append(("A: " + ", ".join(f"{a} ({n}/10)" for a, n in votes.most_common()), (0, 90, 0)))
        if kemm:
            name = lambda k: k.rstrip("/").rsplit("/", 1)[-1]  # noqa: E731
            objs = ", ".join(name(o) for o in kemm.get("objects", []))
            lines.append(
                (
                    f"KG: ({name(kemm['subject'])}, {kemm['relation']}, {objs}); "
                    f"referred to by {kemm.get('referring', '?')}",
                    (60, 60, 160),
                )
            )
        lines.append((f"question {q['question_id']}, image {image['file_name']}", (110, 110, 110)))
    elif task == "image":
        if not 0 <= index < len(instances["images"]):
            raise KemmError(f"{split} has {len(instances['images'])} images; index {index} is out of range")
        image = instances["images"][index]
        for c in captions["annotations"]:
            if c["image_id"] == image["id"]:
                lines.append((f"- {c['caption']}", (0, 0, 0)))
        lines.append((f"image {image['file_name']}", (110, 110, 110)))
    else:
        raise KemmError(f"unknown task {task!r}: use 'vqa' or 'image'")

    path = bench_dir / "images" / split / image["file_name"]
    try:
        with Image.open(path) as im:
            picture = im.convert("RGB")
    except FileNotFoundError:
        raise InputError("image not found", path) from None
    except OSError as e:
        raise InputError(f"cannot decode image: {e}", path) from None
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(picture)
    small = _font(14)
    cats = {c["id"]: c for c in instances["categories"]}
    for a in instances["annotations"]:
        if a["image_id"] != image["id"]:
            continue
        cat = cats[a["category_id"]]
        colour = _SUBJECT if cat.get("kg_key") == subject else _BOX
        x, y, w, h = (v * scale for v in a["bbox"])
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=colour, width=3)
        tw = draw.textlength(cat["name"], font=small)
        ty = y - 20 if y >= 20 else y + 2
        draw.rectangle([x, ty, x + tw + 8, ty + 19], fill=colour)
        draw.text((x + 4, ty + 1), cat["name"], fill=(255, 255, 255), font=small)

    font = _font(17)
    width = max(picture.width, 560)
    wrapped: list[tuple[str, tuple[int, int, int]]] = []
    for text, colour in lines:
        for part in textwrap.wrap(text, width=max(20, int(width / 9.5))):
            wrapped.append((part, colour))
    line_h = 24
    canvas = Image.new("RGB", (width, picture.height + 16 + line_h * len(wrapped) + 10), (255, 255, 255))
    canvas.paste(picture, ((width - picture.width) // 2, 0))
    d = ImageDraw.Draw(canvas)
    y = picture.height + 10
    for text, colour in wrapped:
        d.text((10, y), text, fill=colour, font=font)
        y += line_h
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, format="PNG")
    return out
