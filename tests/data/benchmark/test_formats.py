"""Every file of the generated benchmark is well formed in its real format, with the real field names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kemm.data.benchmark.sprites import sprite_name
from kemm.evaluation.metrics import normalize_vqa_answer, vqa_soft_accuracy

from .conftest import TINY_CONFIG, TINY_SPRITES

SPLITS = ("train", "val", "test")


def _load(root: Path, rel: str):
    return json.loads((root / rel).read_text(encoding="utf-8"))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _rle_decode(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=np.uint8)
    pos, val = 0, 0
    for c in rle["counts"]:
        flat[pos : pos + c] = val
        pos, val = pos + c, 1 - val
    assert pos == h * w
    return flat.reshape((h, w), order="F")


@pytest.mark.parametrize("split", SPLITS)
def test_coco_instances(tiny_benchmark, tiny_knowledge, split):
    data = _load(tiny_benchmark, f"annotations/instances_{split}.json")
    assert set(data) == {"info", "licenses", "images", "annotations", "categories"}
    size = TINY_CONFIG.scene.image_size
    cats = {c["id"]: c for c in data["categories"]}
    for c in data["categories"]:
        assert set(c) >= {"id", "name", "supercategory", "kg_key"}
        assert c["kg_key"] in tiny_knowledge.objects and c["name"] == tiny_knowledge.label(c["kg_key"])
    images = {im["id"]: im for im in data["images"]}
    for im in data["images"]:
        assert set(im) >= {"id", "file_name", "width", "height"}
        with Image.open(tiny_benchmark / "images" / split / im["file_name"]) as pic:
            assert pic.size == (im["width"], im["height"]) == (size, size) and pic.mode == "RGB"
    ids = [a["id"] for a in data["annotations"]]
    assert len(ids) == len(set(ids))
    per_image: dict[int, list[str]] = {}
    for a in data["annotations"]:
        assert set(a) == {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation"}
        assert a["image_id"] in images and a["iscrowd"] == 0
        key = cats[a["category_id"]]["kg_key"]
        per_image.setdefault(a["image_id"], []).append(key)
        # every object is a KG entity with a shipped sprite
        assert (TINY_SPRITES / f"{sprite_name(tiny_knowledge.emoji[key])}.png").is_file()
        x, y, w, h = a["bbox"]
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= size and y + h <= size
        mask = _rle_decode(a["segmentation"])
        assert mask.sum() == a["area"] > 0
        ys, xs = np.nonzero(mask)
        assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == [x, y, w, h]
    for keys in per_image.values():
        assert 1 <= len(keys) <= 4 and len(set(keys)) == len(keys)


@pytest.mark.parametrize("split", SPLITS)
def test_coco_captions(tiny_benchmark, tiny_knowledge, split):
    data = _load(tiny_benchmark, f"annotations/captions_{split}.json")
    inst = _load(tiny_benchmark, f"annotations/instances_{split}.json")
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    names: dict[int, set[str]] = {}
    for a in inst["annotations"]:
        names.setdefault(a["image_id"], set()).add(cats[a["category_id"]])
    per_image: dict[int, list[str]] = {}
    for c in data["annotations"]:
        assert set(c) == {"id", "image_id", "caption"}
        per_image.setdefault(c["image_id"], []).append(c["caption"])
        assert any(n in c["caption"] for n in names[c["image_id"]]), c
    assert all(len(v) == len(set(v)) >= 3 for v in per_image.values())
    for image_id, caps in per_image.items():  # the captions of an image name each of its objects
        assert all(any(n in c for c in caps) for n in names[image_id])
    assert set(per_image) == {im["id"] for im in data["images"]}


@pytest.mark.parametrize("split", SPLITS)
def test_okvqa_questions_and_annotations(tiny_benchmark, tiny_knowledge, split):
    qs = _load(tiny_benchmark, f"okvqa/OpenEnded_kemm_{split}_questions.json")
    an = _load(tiny_benchmark, f"okvqa/kemm_{split}_annotations.json")
    assert {"info", "task_type", "data_type", "license", "data_subtype", "questions"} <= set(qs)
    assert {"info", "license", "data_subtype", "data_type", "question_types", "annotations"} <= set(an)
    images = {im["id"] for im in _load(tiny_benchmark, f"annotations/instances_{split}.json")["images"]}
    anns = {a["question_id"]: a for a in an["annotations"]}
    assert [q["question_id"] for q in qs["questions"]] == [a["question_id"] for a in an["annotations"]]
    for q in qs["questions"]:
        assert set(q) == {"image_id", "question", "question_id"} and q["image_id"] in images
        a = anns[q["question_id"]]
        assert a["image_id"] == q["image_id"] and a["question_type"] in an["question_types"]
        assert [x["answer_id"] for x in a["answers"]] == list(range(1, 11))
        assert all(set(x) == {"answer_id", "raw_answer", "answer_confidence", "answer"} for x in a["answers"])
        k = a["kemm"]
        # the answers are the KG's objects for (subject, relation), every one of them fully credited
        assert tuple(k["objects"]) == tiny_knowledge.objects_of(k["subject"], k["relation"])
        acceptable = {normalize_vqa_answer(n) for o in k["objects"] for n in tiny_knowledge.names[o]}
        assert {x["answer"] for x in a["answers"]} <= acceptable
        for o in k["objects"]:
            acc = vqa_soft_accuracy(tiny_knowledge.label(o), [x["answer"] for x in a["answers"]])
            assert acc == 1.0 if len(k["objects"]) <= 2 else acc >= 0.9
        # the subject is asked about, not named
        assert tiny_knowledge.label(k["subject"]) not in q["question"]


@pytest.mark.parametrize("split", SPLITS)
def test_commonsenseqa_distractors_are_never_true(tiny_benchmark, tiny_knowledge, split):
    records = _jsonl(tiny_benchmark / "csqa" / f"{split}.jsonl")
    assert records
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) and all(len(i) == 32 for i in ids)
    targets = tiny_knowledge.targets_by_relation()
    for r in records:
        assert set(r) >= {"answerKey", "id", "question"}
        q = r["question"]
        assert set(q) == {"question_concept", "choices", "stem"}
        assert [c["label"] for c in q["choices"]] == list("ABCDE")
        assert r["answerKey"] in "ABCDE"
        k = r["kemm"]
        assert q["question_concept"] == tiny_knowledge.label(k["subject"])
        true = tiny_knowledge.objects_of(k["subject"], k["relation"])
        answer = q["choices"]["ABCDE".index(r["answerKey"])]
        assert answer["text"] == tiny_knowledge.label(k["answer"]) and k["answer"] in true
        for key, choice in zip(k["choices"], q["choices"]):
            assert choice["text"] == tiny_knowledge.label(key)
            if key != k["answer"]:
                assert key not in true  # never a true answer ...
                assert key in targets[k["relation"]]  # ... but a concept sharing the relation
        assert len({c["text"] for c in q["choices"]}) == 5


@pytest.mark.parametrize("split", SPLITS)
def test_lama_probes(tiny_benchmark, tiny_knowledge, split):
    records = _jsonl(tiny_benchmark / "lama" / f"{split}.jsonl")
    vocab = set((tiny_benchmark / "lama" / "vocab.txt").read_text().splitlines())
    assert records
    for r in records:
        assert set(r) >= {"sub_label", "obj_label", "pred", "masked_sentences", "uuid"}
        assert len(r["masked_sentences"]) == 1 and r["masked_sentences"][0].count("[MASK]") == 1
        k = r["kemm"]
        assert (
            k["object"] in tiny_knowledge.objects_of(k["subject"], k["relation"])
            and r["pred"] == k["relation"]
        )
        assert r["sub_label"] == tiny_knowledge.label(k["subject"]) in r["masked_sentences"][0].lower()
        assert r["obj_label"] == tiny_knowledge.label(k["object"]) and r["obj_label"] in vocab
