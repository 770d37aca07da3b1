"""Detected objects -> KG entities, through the text linker.

A detector's label is linked as a short text: the link covering the whole label wins, else the link
that ends the label, its head word (``"kitchen knife"`` -> knife); a label whose head links to nothing
links to nothing (``"fire hydrant"`` is not fire). The saved map is plain JSON, to be checked and
corrected by hand where the text linker chose the wrong sense. Closed vocabularies (COCO-80, Visual Genome
object classes) are linked once into a :class:`LabelMap` that can be saved as JSON and reused, so that
images are linked with dictionary look-ups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kemm.data import ObjectAnnotation
from kemm.errors import InputError
from kemm.linking.linker import EntityLink, EntityLinker, LinkResult
from kemm.utils.io import atomic_write


@dataclass
class LabelEntry:
    """How one detector label links. ``key`` is ``None`` when the label names no entity."""

    label: str
    key: str | None
    entity_label: str | None = None
    reason: str | None = None
    score: float = 0.0
    head_only: bool = False


@dataclass
class LabelMap:
    """Detector label -> KG entity key, for one vocabulary and one KG.

    Attributes:
        entries: label -> :class:`LabelEntry`.
        vocabulary: name of the label vocabulary (``coco80``, ``visual_genome``, a file name, ...).
        kg: where the KG came from (its directory or ``meta`` name), for provenance.
    """

    entries: dict[str, LabelEntry] = field(default_factory=dict)
    vocabulary: str = ""
    kg: str = ""

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, label: str) -> LabelEntry | None:
        return self.entries.get(label) or self.entries.get(label.lower())

    @property
    def coverage(self) -> float:
        return sum(e.key is not None for e in self.entries.values()) / max(len(self.entries), 1)

    def save(self, path: str | Path) -> None:
        data = {
            "vocabulary": self.vocabulary,
            "kg": self.kg,
            "labels": {k: e.__dict__ for k, e in self.entries.items()},
        }
        with atomic_write(path) as f:
            json.dump(data, f, indent=1, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | Path) -> LabelMap:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {k: LabelEntry(**v) for k, v in data["labels"].items()}
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(
                f"not a label map written by LabelMap.save ({type(e).__name__}: {e})", path
            ) from None
        return cls(entries, data.get("vocabulary", ""), data.get("kg", ""))


def _best_link(label: str, result: LinkResult) -> tuple[EntityLink | None, bool]:
    if not result.links:
        return None, False
    whole = [link for link in result.links if link.start == 0 and link.end == len(label)]
    if whole:
        return whole[0], False
    head = [link for link in result.links if link.end == len(label)]  # the head noun is the last word
    return (max(head, key=lambda link: link.end - link.start), True) if head else (None, False)


def build_label_map(linker: EntityLinker, labels: Iterable[str], vocabulary: str = "") -> LabelMap:
    """Link every label of a closed vocabulary once."""
    labels = list(dict.fromkeys(labels))
    results = linker.link_many([label.replace("_", " ") for label in labels])
    entries = {}
    for label, res in zip(labels, results):
        link, head = _best_link(label.replace("_", " "), res)
        entries[label] = (
            LabelEntry(label, link.key, link.label, link.reason, link.score, head)
            if link
            else LabelEntry(label, None)
        )
    kg_name = str(linker.kg.path) if linker.kg.path is not None else str(linker.kg.meta.get("name", ""))
    return LabelMap(entries, vocabulary, kg_name)


def read_vocabulary(path: str | Path) -> list[str]:
    """Labels from a JSON list, a COCO annotation file (its categories) or a text file (one per line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"label vocabulary is not UTF-8 text ({e.reason} at byte {e.start})", path) from None
    except OSError as e:
        raise InputError(f"cannot read label vocabulary: {e.strerror or e}", path) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", path, e.lineno) from None
        if isinstance(data, dict) and "categories" in data:
            return [str(c["name"]) for c in data["categories"]]
        if isinstance(data, list):
            return [str(x) for x in data]
        raise InputError("a label vocabulary JSON is a list of names or a COCO file with categories", path)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class ObjectLink:
    """An object (detection or annotation) and the entity its label links to (``None`` when none)."""

    object: ObjectAnnotation
    entity_id: int | None
    key: str | None
    entity_label: str | None
    reason: str | None

    def to_dict(self) -> dict:
        o = self.object
        return {
            "label": o.label,
            "score": o.score,
            "box_xywh": [round(v, 2) for v in (o.box.x, o.box.y, o.box.w, o.box.h)],
            "entity_id": self.entity_id,
            "key": self.key,
            "entity_label": self.entity_label,
            "reason": self.reason,
        }


class ObjectLinker:
    """Links objects to entities: the object's own KG key when it has one in this KG (the bundled
    benchmark's categories, reason ``dataset``), else through a label map when the label is in it,
    else the text linker."""

    def __init__(self, linker: EntityLinker, label_map: LabelMap | None = None) -> None:
        self.linker = linker
        self.label_map = label_map

    def link(self, objects: Sequence[ObjectAnnotation]) -> list[ObjectLink]:
        ents = self.linker.kg.entities
        index = ents.index
        todo = sorted(
            {
                o.label
                for o in objects
                if o.entity not in index and (self.label_map is None or self.label_map.get(o.label) is None)
            }
        )
        extra = build_label_map(self.linker, todo) if todo else LabelMap()
        out = []
        for d in objects:
            if d.entity is not None and d.entity in index:
                e = index[d.entity]
                out.append(ObjectLink(d, e, d.entity, ents.label(e), "dataset"))
                continue
            entry = (self.label_map.get(d.label) if self.label_map is not None else None) or extra.get(
                d.label
            )
            if entry is None or entry.key is None or entry.key not in index:
                out.append(ObjectLink(d, None, None, None, None))
            else:
                out.append(
                    ObjectLink(
                        d,
                        index[entry.key],
                        entry.key,
                        entry.entity_label,
                        "label-map" if entry.label not in extra.entries else entry.reason,
                    )
                )
        return out
