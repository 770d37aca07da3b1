"""Checkpoints of a benchmark build: rendered images and their records, kept when a build stops.

Rendering dominates the build time. Each image is written to ``.{out}.checkpoint/images/{split}/``
and its records are appended to ``.{out}.checkpoint/{split}.jsonl`` once the image file is complete,
so a build that was interrupted continues where it stopped (``resume=True``) and writes the same
files as an uninterrupted one. The checkpoint is tied to a fingerprint of the configuration, the
KG and the sprites; it is deleted when the build succeeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import IO

import numpy as np

from kemm.data.benchmark.config import BenchmarkConfig
from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.render import RenderedImage
from kemm.data.benchmark.sprites import Sprite

logger = logging.getLogger(__name__)


def fingerprint(config: BenchmarkConfig, knowledge: BenchmarkKnowledge, sprites: dict[str, Sprite]) -> str:
    """sha256 of everything the rendered images depend on."""
    h = hashlib.sha256()
    facts = [[s, r, list(o)] for (s, r), o in knowledge.facts.items()]
    h.update(
        json.dumps([config.to_dict(), facts, knowledge.emoji, knowledge.names, knowledge.labels]).encode()
    )
    for key in sorted(sprites):
        h.update(key.encode() + np.ascontiguousarray(sprites[key].rgba).tobytes())
    return h.hexdigest()


class Checkpoint:
    """The checkpoint directory of the build of ``out``.

    Args:
        resume: keep a checkpoint with the same ``fingerprint`` (else any checkpoint is discarded).
    """

    def __init__(self, out: Path, fingerprint: str, resume: bool) -> None:
        self.dir = out.parent / f".{out.name}.checkpoint"
        stamp = self.dir / "fingerprint"
        if self.dir.exists():
            same = stamp.is_file() and stamp.read_text().strip() == fingerprint
            if resume and same:
                logger.info("resuming from the checkpoint %s", self.dir)
            else:
                if resume:
                    logger.warning("%s was made with other settings, KG or sprites: starting over", self.dir)
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprint + "\n")
        self._open: dict[str, IO[str]] = {}

    def image_dir(self, split: str) -> Path:
        d = self.dir / "images" / split
        d.mkdir(parents=True, exist_ok=True)
        return d

    def load(self, split: str, limit: int) -> list[RenderedImage]:
        """The records of ``split`` already rendered (at most ``limit``), in image order.

        Stops at the first line that is incomplete or whose image file is missing, and cuts the
        file there, so that rendering continues from a consistent state.
        """
        path = self.dir / f"{split}.jsonl"
        if not path.is_file():
            return []
        out: list[RenderedImage] = []
        good = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                if len(out) >= limit or not line.endswith("\n"):
                    break
                try:
                    r = RenderedImage.from_json(line)
                except (json.JSONDecodeError, ValueError):
                    break
                if not (self.image_dir(split) / r.image["file_name"]).is_file():
                    break
                out.append(r)
                good += len(line.encode("utf-8"))
        with open(path, "r+b") as f:
            f.truncate(good)
        if out:
            logger.info("%s: %d images from the checkpoint", split, len(out))
        return out

    def append(self, split: str, record: RenderedImage) -> None:
        """Record one rendered image (after its file was written)."""
        f = self._open.get(split)
        if f is None:
            f = self._open[split] = open(self.dir / f"{split}.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        f.write(record.to_json() + "\n")
        f.flush()

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()

    def link_images(self, split: str, records: list[RenderedImage], dest: Path) -> None:
        """Hard-link (or copy, across filesystems) the images of ``records`` into ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        src_dir = self.image_dir(split)
        for r in records:
            name = r.image["file_name"]
            try:
                os.link(src_dir / name, dest / name)
            except OSError:
                shutil.copyfile(src_dir / name, dest / name)

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.dir)
