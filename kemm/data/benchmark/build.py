"""``make_benchmark``: render the images and write every task file of the benchmark.

Layout of the output directory (written atomically)::

    images/{train,val,test,test_seen}/kemm_{split}_{image_id:012d}.jpg
    annotations/instances_{split}.json      COCO instances (categories = KG entities, with kg_key)
    annotations/captions_{split}.json       COCO captions (image-text pairs for pre-training)
    okvqa/OpenEnded_kemm_{split}_questions.json, okvqa/kemm_{split}_annotations.json   OK-VQA
    csqa/{split}.jsonl                      CommonsenseQA multiple choice
    lama/{split}.jsonl, lama/vocab.txt      LAMA cloze probes and their candidate vocabulary
    stats.json, README.md, ATTRIBUTION.md, OFL.txt

``test_seen`` (questions about entities seen in training) is written only when the configuration
gives it images; it is generated after ``test``, so the other splits' files are the same either way.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kemm.data.benchmark import formats
from kemm.data.benchmark.chance import cloze_chance, multiple_choice_chance, vqa_chance
from kemm.data.benchmark.checkpoint import Checkpoint, fingerprint
from kemm.data.benchmark.config import ALL_SPLITS, BenchmarkConfig
from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.multiple_choice import make_cloze_probes, make_mc_questions
from kemm.data.benchmark.readme import write_readme
from kemm.data.benchmark.render import SplitJob, deal_firsts, render_split, split_rng
from kemm.data.benchmark.splits import EntitySplit, choose_heldout
from kemm.data.benchmark.sprites import ASSET_DIR, load_sprites
from kemm.data.benchmark.vqa import answer_rarity, vqa_relations
from kemm.kg.graph import KnowledgeGraph
from kemm.utils.io import atomic_directory

logger = logging.getLogger(__name__)

#: ``progress(task description, completed, total)``
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BenchmarkSummary:
    """What :func:`make_benchmark` wrote.

    Attributes:
        path: the output directory.
        stats: the content of ``stats.json`` (counts, held-out entities, chance levels: see
            :mod:`~kemm.data.benchmark.chance`; the VQA baseline is ``train_prior``).
        seconds: wall-clock build time.
    """

    path: Path
    stats: dict[str, Any]
    seconds: float


def _dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def _dump_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _firsts_and_pool(
    knowledge: BenchmarkKnowledge, entity_split: EntitySplit, split: str
) -> tuple[list[str], list[str]]:
    """The keys the first objects of ``split``'s images are dealt over, and the keys of the others.

    Each object comes first in a training image equally often; a validation (test) image starts with
    a validation (test) entity, the ones its questions are about, and a ``test_seen`` image with an
    entity that is not held out. The other objects: anything in training images (held-out entities
    are pictured and captioned there, never asked about); in the other splits, anything their
    questions may name (in validation (test) images anything but test (val) entities).
    """
    if split == "train":
        return sorted(knowledge.objects), list(knowledge.objects)
    dealt = sorted(k for k in knowledge.objects if entity_split.subject_allowed(split, k))
    return dealt, [k for k in knowledge.objects if entity_split.mention_allowed(split, k)]


def make_benchmark(
    kg: KnowledgeGraph,
    out: str | Path,
    config: BenchmarkConfig | None = None,
    sprite_dir: str | Path | None = None,
    kg_sources: list[dict[str, Any]] | None = None,
    progress: ProgressFn | None = None,
    workers: int = 1,
    resume: bool = False,
) -> BenchmarkSummary:
    """Generate the benchmark from ``kg`` into ``out`` (replaced atomically when it exists).

    Args:
        kg: a KG in the commonsense schema: picturable entities carry an emoji attribute, facts use
            relations of ``https://w3id.org/kemm/relation/``.
        config: sizes and settings; the default builds in well under a minute on one core. The
            splits written are ``config.splits``: ``test_seen`` only when it has images.
        sprite_dir: folder of emoji sprites (default: the ones shipped with kemm).
        kg_sources: provenance of ``kg`` to record in ``stats.json`` (e.g. file names and sha256).
        progress: called as ``progress(task, completed, total)`` while images are rendered.
        workers: processes rendering images; the files are the same for any number.
        resume: continue from the checkpoint an interrupted build with the same settings, KG and
            sprites left next to ``out`` (see :mod:`~kemm.data.benchmark.checkpoint`); otherwise
            any checkpoint is discarded. The files are the same either way.
    """
    t0 = time.perf_counter()
    config = config or BenchmarkConfig()
    knowledge = BenchmarkKnowledge.from_kg(kg)
    emoji_sprites = load_sprites((knowledge.emoji[k] for k in knowledge.objects), sprite_dir)
    sprites = {k: emoji_sprites[knowledge.emoji[k]] for k in knowledge.objects}
    askable = {k for k in knowledge.objects if vqa_relations(knowledge, k)}
    entity_split = choose_heldout(knowledge, config.heldout_fraction, config.seed, askable)
    rarity = answer_rarity(knowledge, knowledge.objects)
    categories = formats.coco_categories(knowledge)
    category_id = {c["kg_key"]: c["id"] for c in categories}
    stats: dict[str, Any] = {
        "seed": config.seed,
        "scale": config.scale,
        "config": config.to_dict(),
        "kg": {
            "sources": kg_sources or [],
            "picturable_objects": len(knowledge.objects),
            "facts": len(knowledge.triples()),
            "relations": sorted(knowledge.relation_labels),
        },
        "heldout": {"val": sorted(entity_split.val), "test": sorted(entity_split.test)},
        "splits": {},
    }
    vqa_annotations: dict[str, list[dict]] = {}
    lama_records: dict[str, list[dict]] = {}
    mc_records: dict[str, list[dict]] = {}
    out = Path(out)
    checkpoint = Checkpoint(out, fingerprint(config, knowledge, sprites), resume)
    try:
        with atomic_directory(out) as tmp:
            image_id, ann_id, cap_id = 1, 0, 0
            for split in config.splits:
                s_idx = ALL_SPLITS.index(split)  # the seed tag: the same whether test_seen is built or not
                subject_ok = partial(entity_split.subject_allowed, split)
                mention_ok = partial(entity_split.mention_allowed, split)
                n_images = config.num_images(split)
                dealt, pool = _firsts_and_pool(knowledge, entity_split, split)
                job = SplitJob(
                    knowledge=knowledge,
                    sprites=sprites,
                    config=config,
                    entity_split=entity_split,
                    rarity=rarity,
                    split=split,
                    split_index=s_idx,
                    first_image_id=image_id,
                    firsts=deal_firsts(dealt, n_images, split_rng(config.seed, s_idx, 0xDEC)),
                    pool=pool,
                    image_dir=checkpoint.image_dir(split),
                )
                rendered = checkpoint.load(split, n_images)
                if progress is not None and rendered:
                    progress(f"rendering {split}", len(rendered), n_images)
                for r in render_split(job, workers, start=len(rendered)):
                    checkpoint.append(split, r)
                    rendered.append(r)
                    if progress is not None:
                        progress(f"rendering {split}", len(rendered), n_images)
                checkpoint.link_images(split, rendered, tmp / "images" / split)
                images, annotations, captions, vqa_q, vqa_a = [], [], [], [], []
                for r in rendered:
                    images.append(r.image)
                    for key, ann in r.objects:
                        ann_id += 1
                        annotations.append({"id": ann_id, "category_id": category_id[key], **ann})
                    for text in r.captions:
                        cap_id += 1
                        captions.append({"id": cap_id, "image_id": r.image["id"], "caption": text})
                    for q, a in r.vqa:
                        vqa_q.append(q)
                        vqa_a.append(a)
                dropped = sum(r.dropped for r in rendered)
                image_id += n_images
                _dump(
                    tmp / "annotations" / f"instances_{split}.json",
                    {
                        "info": formats.coco_info("kemm benchmark objects (COCO instances)", split),
                        "licenses": formats.LICENSES,
                        "images": images,
                        "annotations": annotations,
                        "categories": categories,
                    },
                )
                _dump(
                    tmp / "annotations" / f"captions_{split}.json",
                    {
                        "info": formats.coco_info("kemm benchmark captions (COCO captions)", split),
                        "licenses": formats.LICENSES,
                        "images": images,
                        "annotations": captions,
                    },
                )
                qfile, afile = formats.okvqa_files(split, vqa_q, vqa_a)
                _dump(tmp / "okvqa" / f"OpenEnded_kemm_{split}_questions.json", qfile)
                _dump(tmp / "okvqa" / f"kemm_{split}_annotations.json", afile)
                vqa_annotations[split] = vqa_a

                mcs, mc_skipped = make_mc_questions(
                    knowledge,
                    split,
                    subject_ok,
                    mention_ok,
                    split_rng(config.seed, s_idx, 0xC5A),
                    config.mc_choices,
                    config.seed,
                )
                mc_records[split] = [formats.csqa_record(q, knowledge) for q in mcs]
                _dump_jsonl(tmp / "csqa" / f"{split}.jsonl", mc_records[split])
                probes = make_cloze_probes(knowledge, split, subject_ok, mention_ok, config.seed)
                lama_records[split] = [formats.lama_record(p, knowledge) for p in probes]
                _dump_jsonl(tmp / "lama" / f"{split}.jsonl", lama_records[split])
                stats["splits"][split] = {
                    "images": len(images),
                    "objects": len(annotations),
                    "captions": len(captions),
                    "vqa_questions": len(vqa_q),
                    "vqa_question_types": dict(sorted(Counter(a["question_type"] for a in vqa_a).items())),
                    "vqa_referring": dict(sorted(Counter(a["kemm"]["referring"] for a in vqa_a).items())),
                    "mc_questions": len(mcs),
                    "mc_skipped_too_few_distractors": mc_skipped,
                    "cloze_probes": len(probes),
                    "dropped_objects": dropped,
                }
                logger.info("%s: %s", split, stats["splits"][split])
            vocab = sorted({r["obj_label"] for recs in lama_records.values() for r in recs})
            (tmp / "lama" / "vocab.txt").write_text("".join(v + "\n" for v in vocab), encoding="utf-8")
            stats["chance"] = {
                "mc": multiple_choice_chance(config.mc_choices),
                "vqa": {
                    sp: vqa_chance(vqa_annotations[sp], vqa_annotations["train"]) for sp in config.splits
                },
                "cloze": {
                    sp: cloze_chance([r["obj_label"] for r in lama_records[sp]], vocab)
                    for sp in config.splits
                },
            }
            _dump(tmp / "stats.json", stats)
            write_readme(tmp / "README.md", stats)
            _copy_attribution(Path(sprite_dir) if sprite_dir is not None else ASSET_DIR, tmp)
    except BaseException:
        logger.warning(
            "build stopped; %s keeps what was rendered: run again with resume (--resume) to continue",
            checkpoint.dir,
        )
        raise
    finally:
        checkpoint.close()
    checkpoint.remove()
    seconds = time.perf_counter() - t0
    logger.info("wrote the benchmark to %s in %.1f s", out, seconds)
    return BenchmarkSummary(out, stats, seconds)


def _copy_attribution(sprite_dir: Path, out: Path) -> None:
    for name in ("ATTRIBUTION.md", "OFL.txt"):
        src = sprite_dir / name
        if src.is_file():
            shutil.copyfile(src, out / name)
        else:
            logger.warning("%s not found: the benchmark images derive from the sprites' font license", src)


def heldout_of(stats: dict[str, Any]) -> EntitySplit:
    """The :class:`EntitySplit` recorded in a benchmark's ``stats.json``."""
    return EntitySplit(frozenset(stats["heldout"]["val"]), frozenset(stats["heldout"]["test"]))
