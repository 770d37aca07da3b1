"""LAMA factual and commonsense probes (https://github.com/facebookresearch/LAMA) -> :class:`ClozeExample`.

LAMA's ``data.zip`` holds four subsets, each JSON Lines, one fact a line:

- ``TREx/P19.jsonl``: ``{"uuid", "obj_uri", "obj_label", "sub_uri", "sub_label", "predicate_id",
  "evidences": [{"sub_surface", "obj_surface", "masked_sentence", ...}]}``;
- ``Google_RE/place_of_birth_test.jsonl``: ``{"pred", "sub", "obj", "evidences", "judgments",
  "sub_w", "sub_label", "sub_aliases", "obj_w", "obj_label", "obj_aliases", "uuid",
  "masked_sentences"}`` (``sub``/``obj`` are Freebase mids, ``pred`` like ``/people/person/place_of_birth``);
- ``ConceptNet/test.jsonl``: ``{"sub", "obj", "pred", "masked_sentences", "obj_label", "uuid"}``
  plus ``"negated"`` on some lines;
- ``Squad/test.jsonl``: ``{"id", "sub_label", "obj_label", "masked_sentences", "negated"?}``.

One :class:`ClozeExample` per line; T-REx's evidences become its ``masked_sentences``. The
``lama`` reader tells the subset from each line's fields; ``lama-trex`` etc. insist on one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from kemm.data.examples import MASK, ClozeExample
from kemm.data.readers.base import DATASETS, DatasetReader, iter_jsonl
from kemm.kg.readers.base import ErrorPolicy

SUBSETS = ("TREx", "Google_RE", "ConceptNet", "Squad")

#: fields a line of each subset must have
_REQUIRED = {
    "TREx": ("uuid", "obj_label", "sub_label", "predicate_id", "evidences"),
    "Google_RE": ("uuid", "pred", "sub", "obj", "sub_label", "obj_label", "masked_sentences"),
    "ConceptNet": ("uuid", "pred", "obj_label", "masked_sentences"),
    "Squad": ("id", "obj_label", "masked_sentences"),
}


def subset_of(rec: dict) -> str | None:
    """Which LAMA subset a line belongs to, from its fields (None when it fits none)."""
    if "evidences" in rec and "predicate_id" in rec:
        return "TREx"
    if "judgments" in rec or (isinstance(rec.get("pred"), str) and rec["pred"].startswith("/")):
        return "Google_RE"
    if "pred" in rec:
        return "ConceptNet"
    if "id" in rec and "masked_sentences" in rec:
        return "Squad"
    return None


@DATASETS.register("lama")
class LamaReader(DatasetReader):
    """Any LAMA subset's JSONL -> :class:`ClozeExample`; the subset is told per line by its fields.

    Args:
        images_dir, check_images: unused (LAMA is text only); accepted for a uniform interface.
    """

    name = "lama"
    example_type = ClozeExample
    #: the one subset this reader accepts; None: any
    subset: ClassVar[str | None] = None

    @classmethod
    def matches(cls, path: Path) -> bool:
        if cls.subset is not None:
            return False
        return path.suffix == ".jsonl" and any(part in SUBSETS for part in path.parts[-2:-1])

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ClozeExample]:
        for line, rec in iter_jsonl(path, errors):
            subset = self.subset or subset_of(rec)
            if subset is None:
                errors.error(
                    "not a LAMA line: no subset has these fields " + ", ".join(sorted(rec)), path, line
                )
                continue
            missing = [k for k in _REQUIRED[subset] if k not in rec]
            if missing:
                errors.error(f"{subset} line without {', '.join(missing)}", path, line)
                continue
            example = self._example(subset, rec, path, line, errors)
            if example is None:
                continue
            if not example.masked_sentences:
                errors.error(f"{example.id}: no masked sentence", path, line)
                continue
            bad = [s for s in example.masked_sentences if MASK not in s]
            if bad:
                errors.error(f"{example.id}: masked sentence without {MASK}", path, line, bad[0])
                continue
            yield example

    def _example(
        self, subset: str, rec: dict, path: Path, line: int, errors: ErrorPolicy
    ) -> ClozeExample | None:
        answer = str(rec["obj_label"])
        if subset == "TREx":
            evidences = rec["evidences"]
            if not isinstance(evidences, list) or not all(
                isinstance(e, dict) and isinstance(e.get("masked_sentence"), str) for e in evidences
            ):
                errors.error(
                    f"{rec['uuid']}: evidences should be a list of objects with a masked_sentence", path, line
                )
                return None
            return ClozeExample(
                id=str(rec["uuid"]),
                masked_sentences=[e["masked_sentence"] for e in evidences],
                answer=answer,
                subject=rec["sub_label"],
                relation=rec["predicate_id"],
                source=subset,
                subject_uri=rec.get("sub_uri"),
                object_uri=rec.get("obj_uri"),
                extra={
                    "sub_surfaces": [e.get("sub_surface") for e in evidences],
                    "obj_surfaces": [e.get("obj_surface") for e in evidences],
                },
            )
        sentences = rec["masked_sentences"]
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            errors.error("masked_sentences should be a list of strings", path, line)
            return None
        extra = {k: rec[k] for k in ("negated",) if k in rec}
        if subset == "Google_RE":
            extra.update({k: rec[k] for k in ("judgments", "sub_aliases", "obj_aliases") if k in rec})
            return ClozeExample(
                id=str(rec["uuid"]),
                masked_sentences=sentences,
                answer=answer,
                subject=rec["sub_label"],
                relation=rec["pred"],
                source=subset,
                subject_uri=rec["sub"],
                object_uri=rec["obj"],
                extra=extra,
            )
        if subset == "ConceptNet":
            if "obj" in rec:
                extra["obj"] = rec["obj"]
            subject = rec.get("sub_label", rec.get("sub"))
            return ClozeExample(
                id=str(rec["uuid"]),
                masked_sentences=sentences,
                answer=answer,
                subject=str(subject) if subject is not None else None,
                relation=rec["pred"],
                source=subset,
                extra=extra,
            )
        return ClozeExample(
            id=str(rec["id"]),
            masked_sentences=sentences,
            answer=answer,
            subject=rec.get("sub_label"),
            source=subset,
            extra=extra,
        )


@DATASETS.register("lama-trex")
class LamaTRExReader(LamaReader):
    """LAMA T-REx (``TREx/P*.jsonl``) only: one example per fact, its evidences as sentences."""

    name = "lama-trex"
    subset = "TREx"


@DATASETS.register("lama-google-re")
class LamaGoogleREReader(LamaReader):
    """LAMA Google-RE (``Google_RE/*_test.jsonl``) only."""

    name = "lama-google-re"
    subset = "Google_RE"


@DATASETS.register("lama-conceptnet")
class LamaConceptNetReader(LamaReader):
    """LAMA ConceptNet (``ConceptNet/test.jsonl``) only."""

    name = "lama-conceptnet"
    subset = "ConceptNet"


@DATASETS.register("lama-squad")
class LamaSquadReader(LamaReader):
    """LAMA SQuAD (``Squad/test.jsonl``) only."""

    name = "lama-squad"
    subset = "Squad"
