"""Visual Genome scene graphs (https://homes.cs.washington.edu/~ranjay/visualgenome/api.html).

``scene_graphs.json`` is a list with one record per image::

    {"image_id": 1,
     "objects": [{"object_id": 1058498, "x": 421, "y": 91, "w": 79, "h": 339,
                  "names": ["man"], "synsets": ["man.n.01"], "attributes": ["standing"]}, ...],
     "relationships": [{"relationship_id": 15927, "predicate": "ON", "synsets": ["along.r.01"],
                        "subject_id": 1058498, "object_id": 1058507}, ...]}

Relationships either reference objects by id (``subject_id``/``object_id``) or, as in
``relationships.json`` and older releases, hold the objects inline (``"subject": {"object_id",
"x", "y", "w", "h", "name" or "names", ...}``); both are read, and an inline object not among
``objects`` is added to them. ``image_data.json`` (``[{"image_id" or "id", "width", "height",
"url", "coco_id", "flickr_id"}]``) gives sizes and the ``VG_100K``/``VG_100K_2`` folder of each
image. The 0.7 GB scene-graph file is streamed one image at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kemm.data.examples import Box, ImageRef, ObjectAnnotation, Relationship, SceneGraph
from kemm.data.readers.base import DATASETS, DatasetReader, iter_json_array, load_json
from kemm.errors import InputError
from kemm.kg.readers.base import ErrorPolicy

_IMAGE_FOLDERS = ("", "VG_100K", "VG_100K_2")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _names(obj: dict) -> list[str]:
    names = obj.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    name = obj.get("name")
    return [str(name)] if name is not None else []


def _parse_object(obj: Any) -> ObjectAnnotation | str:
    """The object, or the reason it cannot be read."""
    if not isinstance(obj, dict):
        return "an object should be a JSON object"
    if "object_id" not in obj:
        return "object without 'object_id'"
    if not all(_number(obj.get(k)) for k in ("x", "y", "w", "h")):
        return f"object {obj['object_id']}: needs numeric x, y, w, h"
    names = _names(obj)
    if not names:
        return f"object {obj['object_id']}: no 'names' (or 'name')"
    attrs = obj.get("attributes") or []
    return ObjectAnnotation(
        box=Box(float(obj["x"]), float(obj["y"]), float(obj["w"]), float(obj["h"])),
        label=names[0],
        id=obj["object_id"],
        names=names,
        attributes=[str(a).strip() for a in attrs if isinstance(a, str)],
        synsets=[str(s) for s in obj.get("synsets") or []],
    )


@DATASETS.register("visual-genome", aliases=("vg", "scene-graphs"))
class VisualGenomeReader(DatasetReader):
    """``scene_graphs.json`` -> :class:`SceneGraph` (one per image).

    Args:
        image_data: ``image_data.json`` for sizes and image folders; default: next to the scene
            graphs when it is there.
        images_dir: the folder holding ``VG_100K/`` and ``VG_100K_2/`` (or the images directly).
        check_images: see :class:`DatasetReader`.
    """

    name = "visual-genome"
    example_type = SceneGraph

    def __init__(self, image_data: str | Path | None = None, **common) -> None:
        super().__init__(**common)
        self.image_data = Path(image_data) if image_data is not None else None

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name in ("scene_graphs.json", "scene_graphs.json.gz")

    def _load_image_data(self, path: Path) -> dict[Any, dict]:
        src = self.image_data or path.parent / "image_data.json"
        if self.image_data is None and not src.exists():
            return {}
        data = load_json(src)
        if not isinstance(data, list):
            raise InputError("image_data.json should hold a list", src)
        return {d.get("image_id", d.get("id")): d for d in data if isinstance(d, dict)}

    def _image(self, image_id: Any, meta: dict) -> ImageRef:
        url = meta.get("url")
        if isinstance(url, str) and "/" in url:
            folder, file_name = url.rstrip("/").split("/")[-2:]
            candidates = [f"{folder}/{file_name}", file_name]
        else:
            candidates = [f"{f}/{image_id}.jpg" if f else f"{image_id}.jpg" for f in _IMAGE_FOLDERS]
        if self.images_dir is not None:
            for c in candidates:
                if (self.images_dir / c).is_file():
                    return self.image_ref(c)
        return self.image_ref(candidates[0])

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[SceneGraph]:
        meta_by_id = self._load_image_data(path)
        for line, rec in iter_json_array(path):
            if not isinstance(rec, dict) or "image_id" not in rec:
                errors.error("scene graph without 'image_id'", path, line, str(rec)[:300])
                continue
            image_id = rec["image_id"]
            what = f"image_id {image_id}"
            objects, relationships = self._graph(rec, what, path, line, errors)
            meta = meta_by_id.get(image_id, {})
            image = self._image(image_id, meta)
            if not self.image_ok(image, errors, path, line, what):
                continue
            yield SceneGraph(
                image_id=image_id,
                image=image,
                objects=objects,
                relationships=relationships,
                width=meta.get("width"),
                height=meta.get("height"),
                source=self.name,
            )

    def _graph(
        self, rec: dict, what: str, path: Path, line: int, errors: ErrorPolicy
    ) -> tuple[list[ObjectAnnotation], list[Relationship]]:
        """The objects and relationships of one record; bad ones are reported and left out."""
        objects: list[ObjectAnnotation] = []
        index: dict[Any, int] = {}  # object_id -> position in objects

        def add(obj: Any) -> int | None:
            parsed = _parse_object(obj)
            if isinstance(parsed, str):
                errors.error(f"{what}: {parsed}", path, line, str(obj)[:300])
                return None
            if parsed.id not in index:
                index[parsed.id] = len(objects)
                objects.append(parsed)
            return index[parsed.id]

        for obj in rec.get("objects") or []:
            add(obj)
        relationships: list[Relationship] = []
        for rel in rec.get("relationships") or []:
            rel_what = (
                f"{what}: relationship {rel.get('relationship_id') if isinstance(rel, dict) else rel!r}"
            )
            if not isinstance(rel, dict):
                errors.error(f"{rel_what}: not an object", path, line)
                continue
            ends: list[int | None] = []
            for end in ("subject", "object"):
                if isinstance(rel.get(end), dict):  # inline object
                    ends.append(add(rel[end]))
                elif f"{end}_id" in rel:
                    i = index.get(rel[f"{end}_id"])
                    if i is None:
                        errors.error(
                            f"{rel_what}: {end}_id {rel[f'{end}_id']} is not among the image's objects",
                            path,
                            line,
                        )
                    ends.append(i)
                else:
                    errors.error(f"{rel_what}: no {end!r} or '{end}_id'", path, line, str(rel)[:300])
                    ends.append(None)
            subject, obj_end = ends
            if subject is None or obj_end is None:
                continue
            if not isinstance(rel.get("predicate"), str):
                errors.error(f"{rel_what}: no 'predicate'", path, line)
                continue
            relationships.append(
                Relationship(
                    subject=subject,
                    predicate=rel["predicate"].strip(),
                    object=obj_end,
                    id=rel.get("relationship_id"),
                    synsets=tuple(str(s) for s in rel.get("synsets") or ()),
                )
            )
        return objects, relationships
