"""The generated files read back through kemm's own readers of the real formats (kemm.data.read_dataset)."""

from __future__ import annotations

import json

import pytest

from kemm.data import read_dataset

SPLITS = ("train", "val", "test")


@pytest.mark.parametrize("split", SPLITS)
def test_readers_read_every_record(tiny_benchmark, tiny_knowledge, split):
    root = tiny_benchmark
    images = root / "images" / split
    stats = json.loads((root / "stats.json").read_text())["splits"][split]

    stream = read_dataset(
        "coco-instances",
        root / "annotations" / f"instances_{split}.json",
        images_dir=images,
        check_images="decode",
    )
    anns = list(stream)
    assert not stream.skipped and len(anns) == stats["images"]
    assert sum(len(a.objects) for a in anns) == stats["objects"]
    assert all(
        o.entity in tiny_knowledge.objects and o.label == tiny_knowledge.label(o.entity)
        for a in anns
        for o in a.objects
    )

    stream = read_dataset("coco-captions", root / "annotations" / f"captions_{split}.json", images_dir=images)
    assert len(list(stream)) == stats["captions"] and not stream.skipped

    stream = read_dataset(
        "okvqa",
        root / "okvqa" / f"OpenEnded_kemm_{split}_questions.json",
        images_dir=images,
        image_template=f"kemm_{split}_{{image_id:012d}}.jpg",
    )
    vqa = list(stream)
    assert not stream.skipped and len(vqa) == stats["vqa_questions"]
    assert all(len(q.answers) == 10 and q.image.path.is_file() for q in vqa)

    stream = read_dataset("commonsenseqa", root / "csqa" / f"{split}.jsonl")
    mc = list(stream)
    assert not stream.skipped and len(mc) == stats["mc_questions"]
    assert all(len(q.choices) == 5 and 0 <= q.answer < 5 and q.question_concept for q in mc)

    stream = read_dataset("lama", root / "lama" / f"{split}.jsonl")
    cloze = list(stream)
    assert not stream.skipped and len(cloze) == stats["cloze_probes"]
    assert all("[MASK]" in c.masked_sentences[0] and c.answer for c in cloze)
