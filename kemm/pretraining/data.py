"""Image-text pairs for pre-training: reading, linking once (cached), processing, batching.

1. :func:`read_pairs` reads image-text pairs with any :mod:`kemm.data` reader (bundled benchmark
   and COCO captions, JSONL manifests, image folders, WebDataset shards) and, when given, the COCO
   instances of the same images (object boxes and their KG entities).
2. :func:`link_pairs` links every caption with :class:`kemm.linking.EntityLinker`, maps every object
   to its entity, and retrieves each pair's subgraph (:func:`kemm.kg.subgraph.extract_subgraph`)
   once; the result is cached as JSON beside the captions under a :class:`kemm.training.resume.Fingerprint`
   of the captions, the instances, the KG and the settings (any change rebuilds it).
3. :class:`PairProcessor` turns one pair into model inputs: the text tokenizer of the text backbone
   (character spans of the links become token spans through the offsets), the image resized to the
   vision tower's size and normalised, boxes scaled with it.
4. :class:`PairDataset` + :func:`collate` give :class:`~kemm.pretraining.batch.PretrainBatch` es for a
   ``DataLoader`` with workers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from kemm.data import ImageAnnotations, ImageTextPair, read_dataset
from kemm.errors import InputError, KemmError
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from kemm.pretraining.batch import PretrainBatch
from kemm.training.resume import Fingerprint, checksum
from kemm.utils.io import atomic_write

logger = logging.getLogger(__name__)

CACHE_DIR = ".kemm-pretrain-cache"


@dataclass
class DataConfig:
    """Where the pairs are and how they become batches.

    Attributes:
        train: the training pairs: a captions source for ``reader`` (``captions_train.json``, a JSONL
            manifest, an image folder, a WebDataset shard pattern), or a bundled benchmark directory
            (``kemm data make-benchmark``: its train captions, images and instances are used, and
            its validation split becomes ``valid`` unless that is set).
        valid: validation pairs (same forms; None: no validation).
        reader: a :data:`kemm.data.DATASETS` name, or ``"auto"`` (by file name).
        images_dir, valid_images_dir: the image folders the captions name (COCO layouts).
        instances, valid_instances: COCO instances of the same images (object boxes; a category's
            ``kg_key`` names its entity, else its name is linked). None: no object regions.
        heldout_entities: KG keys reported apart in the validation metrics (a benchmark directory
            fills in its held-out validation entities).
        check_images: ``decode`` (default: every image is decoded once when read, so a broken one
            is named before training), ``exists`` or ``none``.
        on_error: ``raise`` (stop at the first bad record, naming file and line) or ``skip`` (count
            it and write it to ``RUN/skipped.tsv``).
        limit: read at most this many training pairs (None: all).
        max_length: text tokens per caption, special tokens included.
        max_regions: object regions per image (the largest kept).
        region_mentions: each object with an entity is also a region mention in the knowledge
            (what a detector + linker would give).
        valid_objects: where the validation images' objects (their regions and region mentions)
            come from: ``annotations`` (the instances file) or ``detected`` (the KG-picture
            detector, :class:`kemm.linking.pictures.PictureDetector`: predicted links, no
            annotation of the validation images used; the annotations only score the detector,
            and masked-object accuracy, which needs the true entity, is not validated).
        graph: retrieve each pair's subgraph (needed by ``gnn`` fusion and ``link-prediction``).
        hops, max_nodes: subgraph radius and node cap.
        linker: :class:`kemm.linking.LinkerConfig` options (default: no dense encoder).
        batch_size: pairs per step on each rank; valid_batch_size: pairs per validation batch.
        num_workers: ``DataLoader`` worker processes (0: load in the training process).
    """

    train: str = ""
    valid: str | None = None
    reader: str = "auto"
    images_dir: str | None = None
    valid_images_dir: str | None = None
    instances: str | None = None
    valid_instances: str | None = None
    heldout_entities: list[str] = field(default_factory=list)
    check_images: Literal["decode", "exists", "none"] = "decode"
    on_error: Literal["raise", "skip"] = "raise"
    limit: int | None = None
    max_length: int = 40
    max_regions: int = 8
    region_mentions: bool = True
    valid_objects: Literal["annotations", "detected"] = "annotations"
    graph: bool = True
    hops: int = 1
    max_nodes: int = 32
    linker: dict[str, Any] = field(default_factory=lambda: {"encoder": None})
    batch_size: int = 32
    valid_batch_size: int = 64
    num_workers: int = 2

    def __post_init__(self) -> None:
        if not self.train:
            raise KemmError(
                "data.train is required (a captions file, manifest, shards or a benchmark directory)"
            )
        for name in ("batch_size", "valid_batch_size", "max_length", "max_nodes", "hops"):
            if getattr(self, name) < 1:
                raise KemmError(f"data.{name} must be at least 1, got {getattr(self, name)}")
        if self.on_error not in ("raise", "skip"):
            raise KemmError(f"data.on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.check_images not in ("decode", "exists", "none"):
            raise KemmError(
                f"data.check_images must be 'decode', 'exists' or 'none', got {self.check_images!r}"
            )
        if self.valid_objects not in ("annotations", "detected"):
            raise KemmError(
                f"data.valid_objects must be 'annotations' or 'detected', got {self.valid_objects!r}"
            )
        if self.num_workers < 0 or self.max_regions < 0:
            raise KemmError("data.num_workers and data.max_regions must be >= 0")

    def resolved(self) -> DataConfig:
        """Expand a benchmark directory in ``train`` into its files."""
        root = Path(self.train)
        if not (root.is_dir() and (root / "annotations" / "captions_train.json").is_file()):
            return self
        ann = root / "annotations"
        heldout = list(self.heldout_entities)
        stats = root / "stats.json"
        if not heldout and stats.is_file():
            heldout = list(json.loads(stats.read_text(encoding="utf-8")).get("heldout", {}).get("val", []))
        valid = self.valid
        fields: dict[str, Any] = {
            "train": str(ann / "captions_train.json"),
            "reader": "coco-captions",
            "images_dir": self.images_dir or str(root / "images" / "train"),
            "instances": self.instances or str(ann / "instances_train.json"),
            "heldout_entities": heldout,
        }
        if valid is None or Path(valid) == root:
            fields.update(
                valid=str(ann / "captions_val.json"),
                valid_images_dir=self.valid_images_dir or str(root / "images" / "val"),
                valid_instances=self.valid_instances or str(ann / "instances_val.json"),
            )
        import dataclasses

        return dataclasses.replace(self, **fields)


# -- 1. reading ---------------------------------------------------------------------------------


@dataclass
class SplitData:
    """The pairs of one split and the objects of their images.

    Attributes:
        pairs: the image-text pairs, in reading order.
        image_index: ``(len(pairs),)`` one integer per distinct image (first appearance order).
        objects: per distinct image, its annotated objects (may be empty).
        skipped: ``(source, line, reason, text)`` of every bad record skipped.
        sources: the files read (for the cache fingerprint).
        objects_from: ``annotations`` or ``detected`` (:func:`detect_objects`).
    """

    pairs: list[ImageTextPair]
    image_index: np.ndarray
    objects: list[list[Any]]
    skipped: list[tuple[str, int | None, str, str]]
    sources: list[Path]
    objects_from: str = "annotations"


def _image_key(pair: ImageTextPair) -> str:
    ref = pair.image
    if "image_id" in pair.extra:
        return f"id:{pair.extra['image_id']}"
    return f"{ref.path}|{ref.member}|{ref.key}"


def read_pairs(
    source: str,
    reader: str = "auto",
    images_dir: str | None = None,
    instances: str | None = None,
    check_images: str = "decode",
    on_error: str = "raise",
    limit: int | None = None,
) -> SplitData:
    """Read one split's pairs (and objects); errors name file and line (see :class:`DataConfig`)."""
    options: dict[str, Any] = {"check_images": check_images}
    if images_dir is not None:
        options["images_dir"] = images_dir
    stream = read_dataset(reader, source, on_error=on_error, **options)  # type: ignore[arg-type,misc]
    pairs: list[ImageTextPair] = []
    for ex in stream:
        if not isinstance(ex, ImageTextPair):
            raise KemmError(
                f"{source}: reader {stream.name!r} gives {type(ex).__name__}, not image-text pairs"
            )
        pairs.append(ex)
        if limit is not None and len(pairs) >= limit:
            break
    skipped = list(stream.skipped)
    if not pairs:
        raise InputError("no image-text pairs read", source)
    keys: dict[str, int] = {}
    index = np.array([keys.setdefault(_image_key(p), len(keys)) for p in pairs], dtype=np.int64)
    objects: list[list[Any]] = [[] for _ in keys]
    sources = [Path(source)]
    if instances is not None:
        ann_stream = read_dataset(  # type: ignore[misc]
            "coco-instances",
            instances,
            on_error=on_error,  # type: ignore[arg-type]
            check_images="none",
            **({"images_dir": images_dir} if images_dir else {}),  # type: ignore[arg-type]
        )
        by_id: dict[str, ImageAnnotations] = {f"id:{a.image_id}": a for a in ann_stream}
        skipped += list(ann_stream.skipped)
        for key, i in keys.items():
            ann = by_id.get(key)
            if ann is not None:
                objects[i] = list(ann.objects)
        sources.append(Path(instances))
    return SplitData(pairs, index, objects, skipped, sources)


def detect_objects(split: SplitData, kg: Any, out: Path | None = None) -> tuple[SplitData, dict[str, float]]:
    """``split`` with each image's objects found by the KG-picture detector instead of annotated,
    and the detector's precision and recall against the annotations it replaces; both go to
    ``out/detections_valid.json`` (the detections as COCO results) when ``out`` is given."""
    import dataclasses

    from kemm.linking.pictures import PictureDetector, coco_results, detection_quality

    detector = PictureDetector.from_kg(kg)
    first: dict[int, int] = {}
    for i, img in enumerate(split.image_index.tolist()):
        first.setdefault(int(img), i)
    found = [detector.detect(split.pairs[first[img]].image.open("RGB")) for img in range(len(split.objects))]
    quality = detection_quality(found, split.objects)
    logger.info(
        "picture detector on %d validation images: entity precision %.2f, recall %.2f",
        len(found),
        quality["entity_precision"],
        quality["entity_recall"],
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        by_image = {split.pairs[first[i]].extra.get("image_id", i): dets for i, dets in enumerate(found)}
        with atomic_write(out / "detections_valid.json") as f:
            json.dump({"quality": quality, "detections": coco_results(by_image, kg)}, f)
    objects = [[d.annotation() for d in dets] for dets in found]
    return dataclasses.replace(split, objects=objects, objects_from="detected"), quality


# -- 2. linking and subgraphs, cached ------------------------------------------------------------


@dataclass
class PairKnowledge:
    """The knowledge of one pair, as cached: ``links`` ``[char_start, char_end, entity, score]``,
    ``objects`` the entity of each object of its image (-1: none), ``nodes`` / ``edges`` its subgraph
    (``edges`` ``[head_index, relation, tail_index]`` over ``nodes``; seeds first)."""

    links: list[list[float]]
    objects: list[int]
    nodes: list[int]
    edges: list[list[int]]


def knowledge_fingerprint(split: SplitData, kg_path: str, config: DataConfig) -> Fingerprint:
    """What the cached links and subgraphs depend on."""
    settings = {
        "linker": config.linker,
        "graph": config.graph,
        "hops": config.hops,
        "max_nodes": config.max_nodes,
        "limit": config.limit,
        "pairs": len(split.pairs),
        "objects": split.objects_from,
        "format": 1,
    }
    inputs = {f"source{i}": checksum(p) for i, p in enumerate(split.sources)}
    inputs["kg"] = checksum(kg_path)
    return Fingerprint(settings, inputs)


def link_pairs(split: SplitData, kg: Any, kg_path: str, config: DataConfig) -> list[PairKnowledge]:
    """Link captions and objects and retrieve subgraphs, or read them from the cache beside the data."""
    fp = knowledge_fingerprint(split, kg_path, config)
    cache = split.sources[0].parent / CACHE_DIR / f"{split.sources[0].name}.{fp.digest[:16]}.json"
    # Concurrent builders (two runs on the same data) are safe: each writes a temporary file and
    # renames it into place, and the same inputs give the same contents.
    if cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:  # not a cache this code wrote (it writes atomically): rebuild it
            logger.warning("unreadable knowledge cache %s; rebuilding it", cache)
            data = {}
        if data.get("fingerprint") == fp.to_dict():
            logger.info("knowledge of %d pairs read from the cache %s", len(split.pairs), cache)
            return [PairKnowledge(**r) for r in data["pairs"]]
    from kemm.linking import EntityLinker, LinkerConfig

    linker = EntityLinker(kg, LinkerConfig(**config.linker))
    results = linker.link_many([p.text for p in split.pairs])
    object_entities = [[_object_entity(o, kg, linker) for o in objs] for objs in split.objects]
    out = []
    for pair_i, (res, img) in enumerate(zip(results, split.image_index)):
        links = [[float(x.start), float(x.end), float(x.entity_id), float(x.score)] for x in res]
        objs = object_entities[int(img)]
        nodes: list[int] = []
        edges: list[list[int]] = []
        if config.graph:
            seeds = list(dict.fromkeys([int(x[2]) for x in links] + [e for e in objs if e >= 0]))
            if seeds:
                from kemm.kg.subgraph import extract_subgraph

                sub = extract_subgraph(kg, seeds, hops=config.hops, max_nodes=config.max_nodes)
                nodes = sub.node_ids.tolist()
                ei, et = sub.edge_index.tolist(), sub.edge_type.tolist()
                edges = [[h, r, t] for h, r, t in zip(ei[0], et, ei[1])]
        out.append(PairKnowledge(links, objs, nodes, edges))
        if pair_i == 0:
            logger.debug("first pair: %s -> %s", split.pairs[0].text, links)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cache) as f:
        json.dump({"fingerprint": fp.to_dict(), "pairs": [r.__dict__ for r in out]}, f)
    linked = sum(bool(r.links) for r in out)
    logger.info("linked %d pairs (%d with a mention); cached in %s", len(out), linked, cache)
    return out


def _object_entity(obj: Any, kg: Any, linker: Any) -> int:
    """The KG entity of an annotated object: its ``entity`` key, else its label linked (-1: none)."""
    if obj.entity:
        try:
            return int(kg.entity_id(obj.entity))
        except (KeyError, KemmError):
            pass
    res = linker.link(obj.label)
    return int(res[0].entity_id) if len(res) else -1


# -- 3. processing -------------------------------------------------------------------------------


class PairProcessor:
    """One pair -> tensors: tokens (with token spans of the links), the image, the object boxes.

    Args:
        tokenizer: a Hugging Face fast tokenizer (offsets are needed to place the mentions).
        image_size: side of the square model input in pixels.
        max_length: text tokens, special tokens included.
        max_regions: object regions kept per image (the largest).
        mean, std: per-channel normalisation (ViT's 0.5, 0.5 by default).
    """

    def __init__(
        self,
        tokenizer: Any,
        image_size: int,
        max_length: int = 40,
        max_regions: int = 8,
        mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        std: tuple[float, float, float] = (0.5, 0.5, 0.5),
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise KemmError(
                "pre-training needs a fast tokenizer (character offsets place the entity mentions)"
            )
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.max_length = max_length
        self.max_regions = max_regions
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def text(self, text: str, links: list[list[float]]) -> tuple[list[int], list[tuple[int, int, int]]]:
        """``(token ids, [(entity, token_start, token_end)])`` (end exclusive; truncated links dropped)."""
        enc = self.tokenizer(text, truncation=True, max_length=self.max_length, return_offsets_mapping=True)
        from kemm.models.grounding import char_span_to_tokens

        spans = []
        for start, end, entity, _ in links:
            span = char_span_to_tokens(enc["offset_mapping"], int(start), int(end))
            if span is not None:
                spans.append((int(entity), *span))
        return list(enc["input_ids"]), spans

    def image(self, pair: ImageTextPair, objects: list[Any], entities: list[int]):
        """``(pixels (3, S, S), boxes (R, 4) in model pixels, entity per box (R,))``."""
        img = pair.image.open("RGB")
        w, h = img.size
        from PIL import Image

        img = img.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
        x = (x - self.mean) / self.std  # (3, S, S)
        sx, sy = self.image_size / w, self.image_size / h
        order = sorted(range(len(objects)), key=lambda i: -objects[i].box.w * objects[i].box.h)[
            : self.max_regions
        ]
        boxes = torch.tensor(
            [
                [
                    objects[i].box.x * sx,
                    objects[i].box.y * sy,
                    (objects[i].box.x + objects[i].box.w) * sx,
                    (objects[i].box.y + objects[i].box.h) * sy,
                ]
                for i in order
            ],
            dtype=torch.float,
        ).view(-1, 4)  # (R, 4)
        ents = torch.tensor([entities[i] for i in order], dtype=torch.long)
        return x, boxes, ents, order


# -- 4. dataset and collation ---------------------------------------------------------------------


class PairDataset(Dataset):
    """Processed pairs of one split: each item is what :func:`collate` batches.

    Args:
        split: the pairs and objects; knowledge: their cached links and subgraphs.
        processor: the :class:`PairProcessor`.
        region_mentions: add each object with an entity as a region mention.
        graph: include the subgraph.
        region_targets: each region's entity is also its masked-object target; False (detected
            objects, whose entity is the detector's guess) leaves every region without one.
    """

    def __init__(
        self,
        split: SplitData,
        knowledge: list[PairKnowledge],
        processor: PairProcessor,
        region_mentions: bool = True,
        graph: bool = True,
        region_targets: bool = True,
    ) -> None:
        self.split = split
        self.knowledge = knowledge
        self.processor = processor
        self.region_mentions = region_mentions
        self.graph = graph
        self.region_targets = region_targets

    def __len__(self) -> int:
        return len(self.split.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair, kn = self.split.pairs[i], self.knowledge[i]
        img = int(self.split.image_index[i])
        ids, spans = self.processor.text(pair.text, kn.links)
        pixels, boxes, ents, order = self.processor.image(pair, self.split.objects[img], kn.objects)
        mentions = [Mention(e, "text", start=s, end=t, candidates=[e], priors=[1.0]) for e, s, t in spans]
        if self.region_mentions:
            mentions += [
                Mention(int(e), "region", region=j, candidates=[int(e)], priors=[1.0])
                for j, e in enumerate(ents.tolist())
                if e >= 0
            ]
        ex = ExampleKnowledge(mentions)
        if self.graph:
            seeds = {int(x[2]) for x in kn.links} | {e for e in kn.objects if e >= 0}
            ex.nodes = list(kn.nodes)
            ex.node_types = ["question" if n in seeds else "other" for n in kn.nodes]
            ex.edges = [tuple(e) for e in kn.edges]  # type: ignore[misc]
        return {
            "input_ids": ids,
            "pixels": pixels,
            "boxes": boxes,
            "entities": ents if self.region_targets else torch.full_like(ents, -1),
            "image": img,
            "knowledge": ex,
        }


def collate(items: list[dict[str, Any]], pad_token_id: int = 0, graph: bool = True) -> PretrainBatch:
    """Pad items of :class:`PairDataset` into one :class:`PretrainBatch` (CPU tensors)."""
    b = len(items)
    length = max(len(x["input_ids"]) for x in items)
    ids = torch.full((b, length), pad_token_id, dtype=torch.long)
    mask = torch.zeros((b, length), dtype=torch.long)
    for i, x in enumerate(items):
        ids[i, : len(x["input_ids"])] = torch.as_tensor(x["input_ids"])
        mask[i, : len(x["input_ids"])] = 1
    r = max(len(x["boxes"]) for x in items)
    boxes = region_mask = region_entity = None
    if r:
        boxes = torch.zeros((b, r, 4))
        boxes[..., 2:] = 1.0  # a padded region is a 1-pixel box (never attended)
        region_mask = torch.zeros((b, r), dtype=torch.bool)
        region_entity = torch.full((b, r), -1, dtype=torch.long)
        for i, x in enumerate(items):
            n = len(x["boxes"])
            boxes[i, :n], region_mask[i, :n], region_entity[i, :n] = x["boxes"], True, x["entities"]
    return PretrainBatch(
        input_ids=ids,
        attention_mask=mask,
        pixel_values=torch.stack([x["pixels"] for x in items]),
        image_ids=torch.tensor([x["image"] for x in items], dtype=torch.long),
        knowledge=KnowledgeBatch.collate([x["knowledge"] for x in items], with_graph=graph),
        boxes=boxes,
        region_mask=region_mask,
        region_entity=region_entity,
    )


class Collator:
    """:func:`collate` with fixed options (picklable, for ``DataLoader`` workers)."""

    def __init__(self, pad_token_id: int, graph: bool) -> None:
        self.pad_token_id = pad_token_id
        self.graph = graph

    def __call__(self, items: list[dict[str, Any]]) -> PretrainBatch:
        return collate(items, self.pad_token_id, self.graph)
