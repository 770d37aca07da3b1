"""Records in the real dataset formats: COCO instances and captions, OK-VQA, CommonsenseQA, LAMA.

Field names are exactly those of the original releases; a ``kemm`` field is added where the KG
provenance of a record (subject, relation, object keys) is useful to evaluation code. Readers of the
original formats ignore it.
"""

from __future__ import annotations

from typing import Any

from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.multiple_choice import ClozeProbe, MCQuestion
from kemm.data.benchmark.scene import PlacedObject, mask_to_rle
from kemm.data.benchmark.templates import TEMPLATES
from kemm.data.benchmark.vqa import VQAQuestion

#: A fixed date, so that the files depend on the seed only.
DATE = "2025-01-01"
LICENSES = [
    {
        "id": 1,
        "name": "SIL Open Font License 1.1 (images derived from Noto Color Emoji, Google)",
        "url": "https://openfontlicense.org",
    }
]


def coco_info(description: str, split: str) -> dict[str, Any]:
    return {
        "description": description,
        "url": "https://w3id.org/kemm",
        "version": "1.0",
        "year": 2025,
        "contributor": "kemm benchmark generator",
        "date_created": DATE,
        "split": split,
    }


def coco_image(image_id: int, file_name: str, size: int) -> dict[str, Any]:
    return {
        "id": image_id,
        "file_name": file_name,
        "width": size,
        "height": size,
        "license": 1,
        "coco_url": "",
        "flickr_url": "",
        "date_captured": DATE,
    }


def coco_annotation(image_id: int, obj: PlacedObject) -> dict[str, Any]:
    """A COCO instance without its ``id`` and ``category_id`` (given when the split is assembled):
    ``bbox`` is ``[x, y, width, height]`` of the visible pixels, ``area`` their count,
    ``segmentation`` their mask as uncompressed RLE."""
    return {
        "image_id": image_id,
        "bbox": [float(v) for v in obj.bbox],
        "area": float(obj.area),
        "iscrowd": 0,
        "segmentation": mask_to_rle(obj.mask),
    }


def coco_categories(knowledge: BenchmarkKnowledge) -> list[dict[str, Any]]:
    """One category per picturable entity, ids 1..K in key order; ``kg_key`` (the field
    :mod:`kemm.data.readers.coco` reads) is the entity IRI."""
    out = []
    for i, key in enumerate(knowledge.objects, start=1):
        parents = knowledge.objects_of(key, "IsA")
        out.append(
            {
                "id": i,
                "name": knowledge.label(key),
                "supercategory": knowledge.label(parents[0]) if parents else "object",
                "kg_key": key,
            }
        )
    return out


def okvqa_question(question_id: int, image_id: int, q: VQAQuestion) -> dict[str, Any]:
    return {"image_id": image_id, "question": q.question, "question_id": question_id}


def okvqa_annotation(question_id: int, image_id: int, q: VQAQuestion) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "answer_type": "other",
        "question_type": q.relation,
        "question_id": question_id,
        "answers": [
            {"answer_id": i, "raw_answer": raw, "answer_confidence": "yes", "answer": ans}
            for i, (raw, ans) in enumerate(q.answers, start=1)
        ],
        "confidence": 3,
        "kemm": {
            "subject": q.subject,
            "relation": q.relation,
            "objects": list(q.objects),
            "referring": q.referring,
            "mentions": list(q.mentions),
        },
    }


def okvqa_files(split: str, questions: list[dict], annotations: list[dict]) -> tuple[dict, dict]:
    """The OK-VQA questions file and annotations file of one split."""
    subtype = f"kemm_{split}"
    qfile = {
        "info": coco_info("kemm knowledge VQA (OK-VQA format)", split),
        "task_type": "Open-Ended",
        "data_type": "kemm",
        "license": LICENSES[0],
        "data_subtype": subtype,
        "questions": questions,
    }
    afile = {
        "info": coco_info("kemm knowledge VQA (OK-VQA format)", split),
        "license": LICENSES[0],
        "data_subtype": subtype,
        "data_type": "kemm",
        "question_types": {r: t.description for r, t in TEMPLATES.items() if t.vqa is not None},
        "annotations": annotations,
    }
    return qfile, afile


def csqa_record(q: MCQuestion, knowledge: BenchmarkKnowledge) -> dict[str, Any]:
    labels = [chr(ord("A") + i) for i in range(len(q.choices))]
    return {
        "answerKey": labels[q.answer_index],
        "id": q.id,
        "question": {
            "question_concept": knowledge.label(q.subject),
            "choices": [{"label": lab, "text": knowledge.label(c)} for lab, c in zip(labels, q.choices)],
            "stem": q.stem,
        },
        "kemm": {
            "subject": q.subject,
            "relation": q.relation,
            "answer": q.answer,
            "choices": list(q.choices),
        },
    }


def lama_record(p: ClozeProbe, knowledge: BenchmarkKnowledge) -> dict[str, Any]:
    """A probe in the layout of LAMA's ConceptNet subset (``test.jsonl``)."""
    sub, obj = knowledge.label(p.subject), knowledge.label(p.object)
    return {
        "sub": sub,
        "obj": obj,
        "pred": p.relation,
        "masked_sentences": [p.sentence],
        "obj_label": obj,
        "uuid": p.uuid,
        "sub_label": sub,
        "kemm": {"subject": p.subject, "relation": p.relation, "object": p.object},
    }
