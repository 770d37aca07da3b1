"""VQAv2, OK-VQA and A-OKVQA -> :class:`VQAExample`.

VQAv2 (https://visualqa.org/download.html) and OK-VQA (https://okvqa.allenai.org) ship two files
per split, joined on ``question_id``:

- questions, ``v2_OpenEnded_mscoco_train2014_questions.json`` (OK-VQA:
  ``OpenEnded_mscoco_train2014_questions.json``): ``{"data_subtype": "train2014",
  "questions": [{"image_id", "question", "question_id"}], ...}``;
- annotations, ``v2_mscoco_train2014_annotations.json`` (OK-VQA: ``mscoco_train2014_annotations.json``):
  ``{"annotations": [{"question_id", "image_id", "question_type", "answer_type",
  "multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"}]}]}``; OK-VQA's
  answers also hold ``raw_answer`` (before its stemming) and the record a ``confidence``.

A-OKVQA (https://github.com/allenai/aokvqa) is one list per split, ``aokvqa_v1p0_train.json``:
``[{"split", "image_id", "question_id", "question", "choices", "correct_choice_idx",
"direct_answers", "difficult_direct_answer", "rationales"}]`` (the test split lacks the answers),
on COCO 2017 images.

Images are found in ``images_dir`` by COCO's naming: ``COCO_train2014_000000123456.jpg`` for
2014 (VQAv2, OK-VQA), ``000000123456.jpg`` for 2017 (A-OKVQA); ``image_template`` changes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kemm.data.examples import VQAExample
from kemm.data.readers.base import (
    DATASETS,
    DatasetReader,
    format_image_name,
    get_field,
    iter_json_array,
    load_json,
)
from kemm.errors import InputError
from kemm.kg.readers.base import ErrorPolicy

_SUBTYPE = re.compile(r"(train|val|test-dev|test)(\d{4})")


def annotations_path_for(questions: Path) -> Path:
    """The annotation file that goes with a questions file, by the VQA naming convention.

    ``v2_OpenEnded_mscoco_train2014_questions.json`` -> ``v2_mscoco_train2014_annotations.json``;
    ``OpenEnded_mscoco_val2014_questions.json`` -> ``mscoco_val2014_annotations.json``.
    """
    name = questions.name.replace("OpenEnded_", "").replace("MultipleChoice_", "")
    return questions.with_name(name.replace("_questions", "_annotations"))


@DATASETS.register("vqav2", aliases=("vqa",))
class VQAv2Reader(DatasetReader):
    """VQAv2 questions + annotations -> :class:`VQAExample` (one per question, in file order).

    ``path`` is the questions file.

    Args:
        annotations: the annotations file. ``None`` (default): the file named by the VQA convention
            next to the questions, required unless the split is a test split; ``False``: read
            questions only (answers left empty).
        image_template: image file name; may use ``{image_id}``, ``{subtype}`` (``train2014``) and
            ``{split}`` (``train``). Default ``"COCO_{subtype}_{image_id:012d}.jpg"``.
        images_dir, check_images: see :class:`DatasetReader`.
    """

    name = "vqav2"
    example_type = VQAExample
    default_template = "COCO_{subtype}_{image_id:012d}.jpg"

    def __init__(
        self, annotations: str | Path | bool | None = None, image_template: str | None = None, **common
    ) -> None:
        super().__init__(**common)
        if annotations is True:
            annotations = None
        self.annotations = Path(annotations) if isinstance(annotations, (str, Path)) else annotations
        self.image_template = image_template or self.default_template

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.startswith("v2_") and path.name.endswith("_questions.json")

    def _load_annotations(self, path: Path, subtype: str) -> tuple[Path | None, dict[Any, dict] | None]:
        if self.annotations is False:
            return None, None
        ann_path = self.annotations or annotations_path_for(path)
        if not ann_path.exists():
            if self.annotations is None and subtype.startswith("test"):
                return None, None
            raise InputError(
                f"annotations file {ann_path.name} not found; pass annotations=PATH, or "
                "annotations=False to read the questions without answers",
                ann_path,
            )
        data = load_json(ann_path)
        if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
            raise InputError("not a VQA annotations file: no 'annotations' list", ann_path)
        anns = {}
        for a in data["annotations"]:
            if isinstance(a, dict) and "question_id" in a:
                anns[a["question_id"]] = a
        return ann_path, anns

    def _answers(self, ann: dict, example: VQAExample) -> None:
        answers = ann.get("answers") or []
        example.answers = [str(a["answer"]) for a in answers if isinstance(a, dict) and "answer" in a]
        example.extra["answer_confidence"] = [
            a.get("answer_confidence") for a in answers if isinstance(a, dict)
        ]
        example.multiple_choice_answer = ann.get("multiple_choice_answer")
        example.answer_type = ann.get("answer_type")
        example.question_type = ann.get("question_type")

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[VQAExample]:
        data = load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
            raise InputError("not a VQA questions file: no 'questions' list", path)
        subtype = data.get("data_subtype")
        if not isinstance(subtype, str):
            m = _SUBTYPE.search(path.name)
            subtype = m.group(0) if m else ""
        m_split = _SUBTYPE.match(subtype)
        split = m_split.group(1) if m_split else subtype
        ann_path, anns = self._load_annotations(path, subtype)
        for i, q in enumerate(data["questions"]):
            what = f"questions[{i}]"
            if not isinstance(q, dict):
                errors.error(f"{what}: not an object", path, None, str(q)[:300])
                continue
            qid = get_field(q, "question_id", errors, path, None, what, (int, str))
            if qid is None:
                continue
            what = f"question_id {qid}"
            image_id = get_field(q, "image_id", errors, path, None, what, (int, str))
            question = get_field(q, "question", errors, path, None, what, str)
            if image_id is None or question is None:
                continue
            file_name = format_image_name(
                self.image_template, path, image_id=image_id, subtype=subtype, split=split
            )
            example = VQAExample(
                question_id=qid,
                image_id=image_id,
                image=self.image_ref(file_name),
                question=question,
                source=self.name,
            )
            if anns is not None:
                ann = anns.get(qid)
                if ann is None:
                    errors.error(f"{what}: no annotation in {ann_path}", path)
                    continue
                if ann.get("image_id", image_id) != image_id:
                    errors.error(
                        f"{what}: the question is on image {image_id}, its annotation on image "
                        f"{ann.get('image_id')} ({ann_path})",
                        path,
                    )
                    continue
                self._answers(ann, example)
            if not self.image_ok(example.image, errors, path, None, what):
                continue
            yield example


@DATASETS.register("okvqa", aliases=("ok-vqa",))
class OKVQAReader(VQAv2Reader):
    """OK-VQA questions + annotations -> :class:`VQAExample`; same layout and options as :class:`VQAv2Reader`.

    ``answers`` are OK-VQA's processed ``answer`` strings (what its evaluation compares against);
    the unprocessed ones are in ``extra["raw_answers"]``.
    """

    name = "okvqa"

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.startswith("OpenEnded_mscoco_") and path.name.endswith("_questions.json")

    def _answers(self, ann: dict, example: VQAExample) -> None:
        super()._answers(ann, example)
        answers = ann.get("answers") or []
        example.extra["raw_answers"] = [a.get("raw_answer") for a in answers if isinstance(a, dict)]
        if "confidence" in ann:
            example.extra["confidence"] = ann["confidence"]


@DATASETS.register("aokvqa", aliases=("a-okvqa",))
class AOKVQAReader(DatasetReader):
    """``aokvqa_v1p0_{split}.json`` -> :class:`VQAExample` with choices, correct index and rationales.

    Args:
        image_template: image file name; may use ``{image_id}`` and ``{split}``. Default
            ``"{image_id:012d}.jpg"`` (COCO 2017; point ``images_dir`` at ``train2017/`` or
            ``val2017/``), or ``"{split}2017/{image_id:012d}.jpg"`` with ``images_dir`` the COCO root.
        images_dir, check_images: see :class:`DatasetReader`.
    """

    name = "aokvqa"
    example_type = VQAExample

    def __init__(self, image_template: str = "{image_id:012d}.jpg", **common) -> None:
        super().__init__(**common)
        self.image_template = image_template

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.startswith("aokvqa_") and path.name.endswith(".json")

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[VQAExample]:
        m = re.search(r"_(train|val|test)(?:_w_ans)?\.json", path.name)
        file_split = m.group(1) if m else ""
        for line, rec in iter_json_array(path):
            what = f"question_id {rec.get('question_id')}" if isinstance(rec, dict) else "record"
            if not isinstance(rec, dict):
                errors.error(f"{what}: not an object", path, line, str(rec)[:300])
                continue
            qid = get_field(rec, "question_id", errors, path, line, what, (str, int))
            image_id = get_field(rec, "image_id", errors, path, line, what, (int, str))
            question = get_field(rec, "question", errors, path, line, what, str)
            if qid is None or image_id is None or question is None:
                continue
            choices = rec.get("choices") or []
            correct = rec.get("correct_choice_idx")
            if correct is not None and not (isinstance(correct, int) and 0 <= correct < len(choices)):
                errors.error(
                    f"{what}: correct_choice_idx {correct!r} is not an index into {len(choices)} choices",
                    path,
                    line,
                )
                continue
            split = rec.get("split") or file_split
            image = self.image_ref(
                format_image_name(self.image_template, path, image_id=image_id, split=split)
            )
            if not self.image_ok(image, errors, path, line, what):
                continue
            extra = {"split": split}
            if "difficult_direct_answer" in rec:
                extra["difficult_direct_answer"] = rec["difficult_direct_answer"]
            yield VQAExample(
                question_id=qid,
                image_id=image_id,
                image=image,
                question=question,
                answers=[str(a) for a in rec.get("direct_answers") or []],
                choices=[str(c) for c in choices],
                correct_choice=correct,
                rationales=[str(r) for r in rec.get("rationales") or []],
                source=self.name,
                extra=extra,
            )
