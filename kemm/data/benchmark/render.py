"""Rendering the images of one split, in this process or in worker processes.

Every image draws from its own random stream ``(seed, split, index)`` and the first object of each
image is dealt before rendering starts, so the files do not depend on the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kemm.data.benchmark import formats
from kemm.data.benchmark.captions import make_captions
from kemm.data.benchmark.config import BenchmarkConfig
from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.scene import render_scene
from kemm.data.benchmark.splits import EntitySplit
from kemm.data.benchmark.sprites import Sprite
from kemm.data.benchmark.vqa import make_questions


def split_rng(seed: int, *tags: int) -> np.random.Generator:
    """The random stream of ``(seed, *tags)``, independent of every other tag tuple."""
    return np.random.default_rng(np.random.SeedSequence([seed, *tags]))


@dataclass(frozen=True)
class SplitJob:
    """Everything needed to render the images of one split.

    Attributes:
        split, split_index: the split's name and its position in :data:`ALL_SPLITS` (a seed tag).
        first_image_id: COCO id of the split's first image; image ``i`` gets ``first_image_id + i``.
        firsts: the first (always placed) object of each image, dealt in advance.
        pool: keys the other objects of an image are drawn from.
        image_dir: where the image files go.
    """

    knowledge: BenchmarkKnowledge
    sprites: dict[str, Sprite]
    config: BenchmarkConfig
    entity_split: EntitySplit
    rarity: dict[tuple[str, str], float]
    split: str
    split_index: int
    first_image_id: int
    firsts: list[str]
    pool: list[str]
    image_dir: Path


@dataclass(frozen=True)
class RenderedImage:
    """One image's records, before annotation and caption ids are assigned; JSON-serialisable so
    that an interrupted build can keep them in its checkpoint.

    Attributes:
        image: the COCO ``images[]`` record.
        objects: ``[kg key, COCO annotation without "id" and "category_id"]`` per object, bottom first.
        captions: the captions.
        vqa: ``[OK-VQA question, OK-VQA annotation]`` per knowledge question.
        dropped: objects that found no placement keeping the others recognisable.
    """

    image: dict[str, Any]
    objects: list[list[Any]]
    captions: list[str]
    vqa: list[list[dict[str, Any]]]
    dropped: int

    def to_json(self) -> str:
        return json.dumps(
            [self.image, self.objects, self.captions, self.vqa, self.dropped], ensure_ascii=False
        )

    @classmethod
    def from_json(cls, line: str) -> RenderedImage:
        image, objects, captions, vqa, dropped = json.loads(line)
        return cls(image, objects, captions, vqa, dropped)


def deal_firsts(keys: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` keys from shuffled copies of ``keys`` in turn: every key comes first equally often."""
    out: list[str] = []
    while len(out) < n:
        out.extend(keys[i] for i in rng.permutation(len(keys)))
    return out[:n]


def render_image(job: SplitJob, index: int) -> RenderedImage:
    """Render image ``index`` of ``job``, write its file and build its records."""
    cfg = job.config
    size = cfg.scene.image_size
    rng = split_rng(cfg.seed, job.split_index, index)
    w = np.asarray(cfg.scene.object_weights, dtype=np.float64)
    n = int(rng.choice(len(w), p=w / w.sum())) + 1
    first = job.firsts[index]
    others = [k for k in job.pool if k != first]
    picked = rng.choice(len(others), size=min(n - 1, len(others)), replace=False).tolist() if n > 1 else []
    keys = [first, *(others[j] for j in picked)]
    scene = render_scene(rng, keys, job.sprites, cfg.scene)

    image_id = job.first_image_id + index
    file_name = f"kemm_{job.split}_{image_id:012d}.{cfg.image_format}"
    im = Image.fromarray(scene.image, "RGB")
    if cfg.image_format == "jpg":
        im.save(job.image_dir / file_name, format="JPEG", quality=cfg.jpeg_quality)
    else:
        im.save(job.image_dir / file_name, format="PNG")
    objects: list[list[Any]] = [[o.key, formats.coco_annotation(image_id, o)] for o in scene.objects]
    captions = make_captions(scene, job.knowledge, size, rng, cfg.captions_per_image)
    questions = make_questions(
        rng,
        scene,
        job.knowledge,
        subject_allowed=partial(job.entity_split.subject_allowed, job.split),
        mention_allowed=partial(job.entity_split.mention_allowed, job.split),
        max_questions=cfg.vqa_per_image,
        image_size=size,
        num_answers=cfg.vqa_answers,
        rarity=job.rarity,
    )
    vqa = [
        [
            formats.okvqa_question(image_id * 10 + k, image_id, q),
            formats.okvqa_annotation(image_id * 10 + k, image_id, q),
        ]
        for k, q in enumerate(questions)
    ]
    return RenderedImage(
        formats.coco_image(image_id, file_name, size), objects, captions, vqa, len(keys) - len(scene.objects)
    )


_JOB: SplitJob | None = None


def _init_worker(job: SplitJob) -> None:
    global _JOB
    _JOB = job


def _render_in_worker(index: int) -> RenderedImage:
    assert _JOB is not None
    return render_image(_JOB, index)


def render_split(job: SplitJob, workers: int = 1, start: int = 0) -> Iterator[RenderedImage]:
    """Render images ``start..`` of ``job`` in order, with ``workers`` processes (1: in this process)."""
    indices = range(start, len(job.firsts))
    if workers <= 1 or len(indices) < 2 * workers:
        for i in indices:
            yield render_image(job, i)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        yield from pool.imap(_render_in_worker, indices, chunksize=8)
