"""COCO captions, COCO instances (ground-truth boxes) and COCO detection results.

Formats (https://cocodataset.org/#format-data):

- ``captions_train2017.json``: ``{"images": [{"id", "file_name", "width", "height", ...}],
  "annotations": [{"id", "image_id", "caption"}]}`` -> one :class:`ImageTextPair` per caption.
- ``instances_val2017.json``: ``images`` as above, ``annotations: [{"id", "image_id", "category_id",
  "bbox": [x, y, w, h], "area", "iscrowd", "segmentation"}]``, ``categories: [{"id", "name",
  "supercategory"}]`` -> one :class:`ImageAnnotations` per image.
- detection results (what a detector submits): ``[{"image_id", "category_id", "bbox", "score"}]``,
  read with a categories source (an instances file) -> one :class:`ImageAnnotations` per image.

Captions and instances files are single JSON documents that cross-reference images by id, so they
are parsed whole (as pycocotools does); results files are top-level arrays and are streamed.
A category may carry a non-standard ``"kg_key"`` field (kemm's bundled benchmark writes the KG
entity key there); it becomes :attr:`ObjectAnnotation.entity`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kemm.data.examples import Box, ImageAnnotations, ImageRef, ImageTextPair, ObjectAnnotation
from kemm.data.readers.base import DATASETS, DatasetReader, format_image_name, iter_json_array, load_json
from kemm.errors import InputError
from kemm.kg.readers.base import ErrorPolicy


def _section(data: Any, key: str, path: Path) -> list:
    if not isinstance(data, dict):
        raise InputError(f"expected a COCO JSON object with {key!r}, found a {type(data).__name__}", path)
    if key not in data:
        raise InputError(f"not a COCO annotation file: no {key!r} list", path)
    if not isinstance(data[key], list):
        raise InputError(f"{key!r} should be a list", path)
    return data[key]


def _parse_box(bbox: Any) -> Box | None:
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox):
        return None
    x, y, w, h = (float(v) for v in bbox)
    return Box(x, y, w, h) if w >= 0 and h >= 0 else None


class _CocoImages:
    """``images[]`` of a COCO file: id -> record, and each image's reference and check result."""

    def __init__(self, reader: DatasetReader, images: list, path: Path, errors: ErrorPolicy) -> None:
        self.reader = reader
        self.path = path
        self.by_id: dict[Any, dict] = {}
        self.order: list[Any] = []
        self._ok: dict[Any, bool] = {}
        for i, img in enumerate(images):
            if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str):
                errors.error(f"images[{i}]: needs 'id' and 'file_name'", path, None, str(img)[:300])
                continue
            self.by_id[img["id"]] = img
            self.order.append(img["id"])

    def ref(self, image_id: Any) -> ImageRef:
        return self.reader.image_ref(self.by_id[image_id]["file_name"])

    def ok(self, image_id: Any, errors: ErrorPolicy, what: str) -> bool:
        """Check the image once; later records of a bad image are skipped with the same reason."""
        if image_id not in self._ok:
            self._ok[image_id] = self.reader.image_ok(self.ref(image_id), errors, self.path, None, what)
        elif not self._ok[image_id]:
            errors.error(f"{what}: image {image_id} is unusable (reported above)", self.path)
        return self._ok[image_id]


@DATASETS.register("coco-captions")
class CocoCaptionsReader(DatasetReader):
    """``captions_*.json`` -> :class:`ImageTextPair` (one per caption, in file order)."""

    name = "coco-captions"
    example_type = ImageTextPair

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.startswith("captions_") and path.name.endswith((".json", ".json.gz"))

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageTextPair]:
        data = load_json(path)
        images = _CocoImages(self, _section(data, "images", path), path, errors)
        for i, ann in enumerate(_section(data, "annotations", path)):
            what = f"annotations[{i}]"
            if not isinstance(ann, dict) or not isinstance(ann.get("caption"), str):
                errors.error(f"{what}: needs a string 'caption'", path, None, str(ann)[:300])
                continue
            what = f"annotations[{i}] (id {ann.get('id')})"
            image_id = ann.get("image_id")
            if image_id not in images.by_id:
                errors.error(f"{what}: image_id {image_id!r} is not in images[]", path)
                continue
            if not images.ok(image_id, errors, what):
                continue
            img = images.by_id[image_id]
            yield ImageTextPair(
                id=str(ann.get("id", i)),
                image=images.ref(image_id),
                text=ann["caption"].strip(),
                source=self.name,
                extra={"image_id": image_id, "width": img.get("width"), "height": img.get("height")},
            )


def _categories(data: Any, path: Path) -> dict[int, dict]:
    cats = {}
    for i, c in enumerate(_section(data, "categories", path)):
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("name"), str):
            raise InputError(f"categories[{i}]: needs 'id' and 'name'", path, None, str(c)[:300])
        cats[c["id"]] = c
    return cats


@DATASETS.register("coco-instances", aliases=("coco-detection",))
class CocoInstancesReader(DatasetReader):
    """``instances_*.json`` -> :class:`ImageAnnotations` (one per image, in ``images[]`` order).

    Args:
        include_empty: also yield images without any annotation (COCO has ~1% of them).
        images_dir, check_images: see :class:`DatasetReader`.
    """

    name = "coco-instances"
    example_type = ImageAnnotations

    def __init__(self, include_empty: bool = True, **common) -> None:
        super().__init__(**common)
        self.include_empty = include_empty

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.startswith("instances_") and path.name.endswith((".json", ".json.gz"))

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageAnnotations]:
        data = load_json(path)
        images = _CocoImages(self, _section(data, "images", path), path, errors)
        cats = _categories(data, path)
        objects: dict[Any, list[ObjectAnnotation]] = {i: [] for i in images.order}
        for i, ann in enumerate(_section(data, "annotations", path)):
            what = f"annotations[{i}]" + (f" (id {ann.get('id')})" if isinstance(ann, dict) else "")
            if not isinstance(ann, dict):
                errors.error(f"{what}: not an object", path, None, str(ann)[:300])
                continue
            if ann.get("image_id") not in images.by_id:
                errors.error(f"{what}: image_id {ann.get('image_id')!r} is not in images[]", path)
                continue
            cat = cats.get(ann.get("category_id"))  # type: ignore[arg-type]  # a missing id finds nothing
            if cat is None:
                errors.error(f"{what}: category_id {ann.get('category_id')!r} is not in categories[]", path)
                continue
            box = _parse_box(ann.get("bbox"))
            if box is None:
                errors.error(
                    f"{what}: bbox should be [x, y, w, h] with w, h >= 0", path, None, str(ann.get("bbox"))
                )
                continue
            objects[ann["image_id"]].append(
                ObjectAnnotation(
                    box=box,
                    label=cat["name"],
                    category_id=cat["id"],
                    id=ann.get("id"),
                    entity=cat.get("kg_key"),
                    iscrowd=bool(ann.get("iscrowd", 0)),
                    area=ann.get("area"),
                )
            )
        for image_id in images.order:
            objs = objects[image_id]
            if not objs and not self.include_empty:
                continue
            if not images.ok(image_id, errors, f"image {image_id}"):
                continue
            img = images.by_id[image_id]
            yield ImageAnnotations(
                image_id=image_id,
                image=images.ref(image_id),
                objects=objs,
                width=img.get("width"),
                height=img.get("height"),
                source=self.name,
            )


@DATASETS.register("coco-results", aliases=("coco-detections",))
class CocoResultsReader(DatasetReader):
    """COCO detection results ``[{"image_id", "category_id", "bbox", "score"}]`` -> :class:`ImageAnnotations`.

    Detections are grouped by image (in order of first appearance), highest score first.

    Args:
        annotations: a COCO file with ``categories`` (and ``images``), e.g. ``instances_val2017.json``:
            gives category names, image file names and sizes. Without it, labels are the category
            ids as strings and image file names come from ``image_template``.
        image_template: file name of an image not listed in ``annotations``; may use ``{image_id}``
            (default ``"{image_id:012d}.jpg"``, COCO 2017 naming).
        images_dir, check_images: see :class:`DatasetReader`.
    """

    name = "coco-results"
    example_type = ImageAnnotations

    def __init__(
        self, annotations: str | Path | None = None, image_template: str = "{image_id:012d}.jpg", **common
    ) -> None:
        super().__init__(**common)
        self.annotations = Path(annotations) if annotations is not None else None
        self.image_template = image_template

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.endswith(("_results.json", "_results.json.gz"))

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageAnnotations]:
        cats: dict[int, dict] | None = None
        images: dict[Any, dict] = {}
        if self.annotations is not None:
            data = load_json(self.annotations)
            cats = _categories(data, self.annotations)
            images = {
                img["id"]: img for img in data.get("images", []) if isinstance(img, dict) and "id" in img
            }
        grouped: dict[Any, list[ObjectAnnotation]] = {}
        for line, det in iter_json_array(path):
            what = f"detection (image_id {det.get('image_id')!r})" if isinstance(det, dict) else "detection"
            if not isinstance(det, dict) or not all(
                k in det for k in ("image_id", "category_id", "bbox", "score")
            ):
                errors.error(
                    f"{what}: needs image_id, category_id, bbox and score", path, line, str(det)[:300]
                )
                continue
            score = det["score"]
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
                errors.error(f"{what}: score should be a number, found {score!r}", path, line)
                continue
            if images and det["image_id"] not in images:
                errors.error(f"{what}: image_id is not in {self.annotations}", path, line)
                continue
            box = _parse_box(det["bbox"])
            if box is None:
                errors.error(
                    f"{what}: bbox should be [x, y, w, h] with w, h >= 0", path, line, str(det["bbox"])
                )
                continue
            if cats is not None:
                cat = cats.get(det["category_id"])
                if cat is None:
                    errors.error(
                        f"{what}: category_id {det['category_id']!r} is not in the categories of "
                        f"{self.annotations}",
                        path,
                        line,
                    )
                    continue
                label, entity = cat["name"], cat.get("kg_key")
            else:
                label, entity = str(det["category_id"]), None
            grouped.setdefault(det["image_id"], []).append(
                ObjectAnnotation(
                    box=box, label=label, category_id=det["category_id"], score=float(score), entity=entity
                )
            )
        for image_id, objs in grouped.items():
            img = images.get(image_id, {})
            file_name = img.get("file_name") or format_image_name(
                self.image_template, path, image_id=image_id
            )
            ref = self.image_ref(file_name)
            if not self.image_ok(ref, errors, path, None, f"image {image_id}"):
                continue
            objs.sort(key=lambda o: -(o.score or 0.0))
            yield ImageAnnotations(
                image_id=image_id,
                image=ref,
                objects=objs,
                width=img.get("width"),
                height=img.get("height"),
                source=self.name,
            )
