"""Checkpoints of a benchmark build: rendered images and their records, kept when a build stops.

Rendering dominates the build time. Each image is written to ``.{out}.checkpoint/images/{split}/``
and its records are appended to ``.{out}.checkpoint/{split}.jsonl`` once the image file is complete,
so a build that was interrupted continues where it stopped (``resume=True``) and writes the same
files as an uninterrupted one. The checkpoint is tied to a fingerprint of the configuration, the
KG and the sprites (the one resume rule of :mod:`kemm.training.resume`): resuming with other
ones is an error naming what changed, and resuming a build that completed says it is finished.
The checkpoint is deleted when the build succeeds.
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
from kemm.training.resume import (
    FINGERPRINT_NAME,
    Fingerprint,
    check_resume,
    checksum,
    finished,
    read_fingerprint,
    write_fingerprint,
)

logger = logging.getLogger(__name__)


def fingerprint(
    config: BenchmarkConfig, knowledge: BenchmarkKnowledge, sprites: dict[str, Sprite]
) -> Fingerprint:
    """The configuration and checksums of everything else the rendered images depend on."""
    facts = [[s, r, list(o)] for (s, r), o in knowledge.facts.items()]
    kg = json.dumps([facts, knowledge.emoji, knowledge.names, knowledge.labels]).encode()
    h = hashlib.sha256()
    for key in sorted(sprites):
        h.update(key.encode() + np.ascontiguousarray(sprites[key].rgba).tobytes())
    return Fingerprint(config.to_dict(), {"kg facts": checksum(kg), "sprites": h.hexdigest()})


class Checkpoint:
    """The checkpoint directory of the build of ``out``.

    Args:
        resume: continue a checkpoint with the same ``fingerprint`` (another one raises
            :class:`~kemm.training.resume.ResumeMismatchError`; a build that completed,
            :class:`~kemm.training.resume.RunFinishedError`). Without it any checkpoint is discarded.
    """

    def __init__(self, out: Path, fingerprint: Fingerprint, resume: bool) -> None:
        self.dir = out.parent / f".{out.name}.checkpoint"
        stamp = self.dir / FINGERPRINT_NAME
        what = f"the benchmark build of {out}"
        if resume and not self.dir.exists() and out.exists():
            raise finished(
                what, "it completed and left no checkpoint", "Run it without --resume to build it again"
            )
        if self.dir.exists():
            if resume:
                check_resume(read_fingerprint(stamp), fingerprint, what)
                logger.info("resuming from the checkpoint %s", self.dir)
            else:
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_fingerprint(stamp, fingerprint)
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
