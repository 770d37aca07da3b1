"""Render the emoji of a KG's picturable objects from Noto Color Emoji to the sprites kemm ships.

Every entity with a ``cs:emoji`` attribute (``https://w3id.org/kemm/commonsense/emoji``) gets an RGBA
PNG, cropped to its content and scaled to 96 px on its longer side, named by its code points
(``🍎`` -> ``1f34e.png``). The output folder also gets ``ATTRIBUTION.md`` (which sprites, from which
font, under which license) and ``OFL.txt`` (the SIL Open Font License 1.1 the font is under).

    python scripts/extract_emoji_sprites.py --kg knowledge_graphs/commonsense/commonsense.ttl

Needs the font (Debian: ``apt-get install fonts-noto-color-emoji``); building the benchmark does not.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from PIL import ImageFont

from kemm.data.benchmark.knowledge import EMOJI_PREDICATE
from kemm.data.benchmark.sprites import (
    ASSET_DIR,
    NOTO_EMOJI_FONT,
    NOTO_STRIKE_SIZE,
    SPRITE_MAX_SIDE,
    render_emoji,
    sprite_name,
)
from kemm.kg import ingest
from kemm.utils.io import atomic_write

logger = logging.getLogger("extract_emoji_sprites")

DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-color-emoji/copyright")


def emoji_of_kg(paths: list[Path]) -> dict[str, list[str]]:
    """emoji -> labels of the KG entities that carry it."""
    kg, _ = ingest(paths)
    out: dict[str, list[str]] = {}
    for e, p, v, _, _ in kg.attributes.rows():
        if p == EMOJI_PREDICATE:
            out.setdefault(v, []).append(kg.entities.label(e))
    return {k: sorted(v) for k, v in sorted(out.items())}


def ofl_text() -> str:
    """The OFL 1.1 text as Debian ships it with the font (the ``License: SIL-1.1`` paragraph)."""
    if not DEBIAN_COPYRIGHT.is_file():
        raise SystemExit(f"{DEBIAN_COPYRIGHT} not found: install fonts-noto-color-emoji")
    text = DEBIAN_COPYRIGHT.read_text(encoding="utf-8")
    start = text.index("License:   SIL-1.1\n This Font Software")
    body = text[start:].split("\n", 1)[1]
    lines = []
    for line in body.splitlines():
        if line and not line.startswith(" "):
            break
        line = line[1:] if line.startswith(" ") else line
        lines.append("" if line == "." else line)
    return "\n".join(lines).strip() + "\n"


def attribution(emojis: dict[str, list[str]], font: Path, font_version: str) -> str:
    rows = "\n".join(
        f"| `{sprite_name(e)}.png` | {e} | U+{' U+'.join(sprite_name(e).upper().split('-'))} | {', '.join(labels)} |"
        for e, labels in emojis.items()
    )
    return f"""# Emoji sprites: attribution

The {len(emojis)} PNG files in this folder are rendered from **Noto Color Emoji**
(https://github.com/googlefonts/noto-emoji), Copyright 2013-2017 Google Inc., licensed under the
**SIL Open Font License, Version 1.1** (full text in `OFL.txt` next to this file).
They were rendered from `{font.name}` (Debian package `fonts-noto-color-emoji`, {font_version})
at the font's bitmap size {NOTO_STRIKE_SIZE}, cropped to their content and scaled to
{SPRITE_MAX_SIDE} px on the longer side by `scripts/extract_emoji_sprites.py`. These images are
derived from the font and are distributed under the same license; "Noto" is a trademark of Google Inc.

| file | emoji | code points | KG concepts |
|---|---|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--kg",
        type=Path,
        nargs="+",
        default=[Path("knowledge_graphs/commonsense/commonsense.ttl")],
        help="KG source files whose cs:emoji attributes name the sprites to extract",
    )
    ap.add_argument("--out", type=Path, default=ASSET_DIR, help="sprite folder (default: the shipped one)")
    ap.add_argument("--font", type=Path, default=NOTO_EMOJI_FONT, help="Noto Color Emoji TTF")
    ap.add_argument(
        "--font-version", default="2.042-0+deb12u1", help="font version written to ATTRIBUTION.md"
    )
    ap.add_argument("--prune", action="store_true", help="delete PNGs in --out that the KG no longer uses")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if not args.font.is_file():
        raise SystemExit(f"{args.font} not found: install the Debian package fonts-noto-color-emoji")
    font = ImageFont.truetype(str(args.font), NOTO_STRIKE_SIZE)
    emojis = emoji_of_kg(args.kg)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for e in emojis:
        try:
            img = render_emoji(e, font)
        except Exception as err:  # noqa: BLE001 - report every failing emoji, then stop
            failed.append(f"{e} ({sprite_name(e)}): {err}")
            continue
        with atomic_write(args.out / f"{sprite_name(e)}.png", "wb") as f:
            img.save(f, format="PNG", optimize=True)
    if failed:
        print("could not render:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    if args.prune:
        keep = {f"{sprite_name(e)}.png" for e in emojis}
        for p in sorted(args.out.glob("*.png")):
            if p.name not in keep:
                logger.info("removing unused sprite %s", p.name)
                p.unlink()
    with atomic_write(args.out / "ATTRIBUTION.md") as f:
        f.write(attribution(emojis, args.font, args.font_version))
    with atomic_write(args.out / "OFL.txt") as f:
        f.write(ofl_text())
    for p in args.out.iterdir():
        if p.is_file():
            os.chmod(p, 0o644)  # atomic_write creates files readable by the owner only
    logger.info("wrote %d sprites, ATTRIBUTION.md and OFL.txt to %s", len(emojis), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
