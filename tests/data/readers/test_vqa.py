import json
import shutil

import pytest

from kemm.data import VQAExample, read_dataset
from kemm.data.readers.vqa import annotations_path_for
from kemm.errors import InputError


@pytest.fixture
def vqav2(datasets_dir):
    return datasets_dir / "vqav2"


QUESTIONS = "v2_OpenEnded_mscoco_train2014_questions.json"
ANNOTATIONS = "v2_mscoco_train2014_annotations.json"


def test_annotations_path_convention(tmp_path):
    assert annotations_path_for(tmp_path / QUESTIONS).name == ANNOTATIONS
    assert (
        annotations_path_for(tmp_path / "OpenEnded_mscoco_val2014_questions.json").name
        == "mscoco_val2014_annotations.json"
    )


def test_vqav2(vqav2):
    exs = list(read_dataset("vqav2", vqav2 / QUESTIONS, images_dir=vqav2 / "train2014"))
    assert all(isinstance(e, VQAExample) for e in exs)
    assert [e.question_id for e in exs] == [9000, 9001, 25000]
    count, colour, yes = exs
    assert count.answers == ["2", "2", "2", "two", "2", "3", "2", "2", "1", "2"]
    assert (count.answer_type, count.question_type, count.multiple_choice_answer) == (
        "number",
        "how many",
        "2",
    )
    assert count.extra["answer_confidence"][8] == "no"
    assert count.image.path == vqav2 / "train2014/COCO_train2014_000000000009.jpg"
    assert yes.image.open().size == (6, 8)
    assert count.accuracy("two") == 1.0 and colour.accuracy("blue") == pytest.approx(0.6)


def test_vqav2_question_without_annotation(vqav2, tmp_path):
    shutil.copy(vqav2 / ANNOTATIONS, tmp_path)
    q = json.loads((vqav2 / QUESTIONS).read_text())
    q["questions"].insert(1, {"image_id": 9, "question": "Is it lunch time?", "question_id": 9002})
    (tmp_path / QUESTIONS).write_text(json.dumps(q))
    with pytest.raises(InputError, match=f"question_id 9002: no annotation in .*{ANNOTATIONS}") as e:
        list(read_dataset("vqav2", tmp_path / QUESTIONS))
    assert e.value.path == str(tmp_path / QUESTIONS)
    stream = read_dataset("vqav2", tmp_path / QUESTIONS, on_error="skip")
    assert [e.question_id for e in stream] == [9000, 9001, 25000] and len(stream.skipped) == 1


def test_vqav2_annotation_files(vqav2, tmp_path):
    shutil.copy(vqav2 / QUESTIONS, tmp_path)
    with pytest.raises(InputError, match=f"annotations file {ANNOTATIONS} not found"):
        list(read_dataset("vqav2", tmp_path / QUESTIONS))
    exs = list(read_dataset("vqav2", tmp_path / QUESTIONS, annotations=False))
    assert len(exs) == 3 and exs[0].answers == []
    exs = list(read_dataset("vqav2", tmp_path / QUESTIONS, annotations=vqav2 / ANNOTATIONS))
    assert len(exs[2].answers) == 10
    # test splits have no annotations: read without answers
    q = json.loads((vqav2 / QUESTIONS).read_text())
    q["data_subtype"] = "test2015"
    test = tmp_path / "v2_OpenEnded_mscoco_test2015_questions.json"
    test.write_text(json.dumps(q))
    exs = list(read_dataset("vqav2", test))
    assert exs[0].answers == [] and exs[0].image.key == "COCO_test2015_000000000009.jpg"


def test_vqav2_image_template_and_missing_image(vqav2, tmp_path):
    exs = list(read_dataset("vqav2", vqav2 / QUESTIONS, image_template="{image_id:012d}.jpg"))
    assert exs[0].image.key == "000000000009.jpg"
    with pytest.raises(InputError, match="question_id 9000: image not found"):
        list(read_dataset("vqav2", vqav2 / QUESTIONS, images_dir=tmp_path))
    with pytest.raises(InputError, match="bad image file name template"):
        list(read_dataset("vqav2", vqav2 / QUESTIONS, image_template="{imageid}.jpg"))


def test_vqav2_image_that_fails_to_decode(vqav2, datasets_dir, tmp_path):
    images = tmp_path / "train2014"
    shutil.copytree(vqav2 / "train2014", images)
    shutil.copy(datasets_dir / "broken/truncated.jpg", images / "COCO_train2014_000000000025.jpg")
    assert (
        len(list(read_dataset("vqav2", vqav2 / QUESTIONS, images_dir=images))) == 3
    )  # "exists" does not decode
    with pytest.raises(
        InputError, match="question_id 25000: .*COCO_train2014_000000000025.jpg: cannot decode"
    ):
        list(read_dataset("vqav2", vqav2 / QUESTIONS, images_dir=images, check_images="decode"))
    stream = read_dataset(
        "vqav2", vqav2 / QUESTIONS, images_dir=images, check_images="decode", on_error="skip"
    )
    assert [e.question_id for e in stream] == [9000, 9001] and len(stream.skipped) == 1


def test_okvqa(datasets_dir):
    d = datasets_dir / "okvqa"
    exs = list(read_dataset("okvqa", d / "OpenEnded_mscoco_val2014_questions.json", images_dir=d / "val2014"))
    assert [e.question_id for e in exs] == [1390, 1391]
    sport = exs[1]
    assert sport.answers[:2] == ["surf", "surf"] and sport.extra["raw_answers"][:2] == ["surfing", "surfing"]
    assert (sport.question_type, sport.answer_type, sport.extra["confidence"]) == ("four", "other", 2)
    assert sport.image.path == d / "val2014/COCO_val2014_000000000139.jpg"
    assert sport.accuracy("surfing") == 0.0 and sport.accuracy("surf") == 1.0
    assert exs[0].accuracy("wood") == 1.0 and exs[0].accuracy("metal") == pytest.approx(0.6)


def test_aokvqa(datasets_dir):
    d = datasets_dir / "aokvqa"
    exs = list(
        read_dataset("a-okvqa", d / "aokvqa_v1p0_val.json", images_dir=d / "val2017", check_images="decode")
    )
    assert [e.question_id for e in exs] == ["22jbM6gDxdaMaunuzgrsBB", "2B8B6hdeTF3t7PYB9yYsFt"]
    ex = exs[0]
    assert ex.choices == ["sleep", "stand up", "swim", "fly"] and ex.correct_choice == 1
    assert (
        len(ex.answers) == 10
        and ex.accuracy("stand up") == 1.0
        and ex.accuracy("get up") == pytest.approx(0.6)
    )
    assert len(ex.rationales) == 3 and ex.extra == {"split": "val", "difficult_direct_answer": False}
    assert exs[1].image.path == d / "val2017/000000000285.jpg"
    test = list(
        read_dataset("aokvqa", d / "aokvqa_v1p0_test.json", image_template="{split}2017/{image_id:012d}.jpg")
    )
    assert test[0].answers == [] and test[0].correct_choice is None and len(test[0].choices) == 4
    assert test[0].image.key == "test2017/000000000139.jpg"


def test_aokvqa_bad_choice_index(datasets_dir, tmp_path):
    data = json.loads((datasets_dir / "aokvqa/aokvqa_v1p0_val.json").read_text())
    data[1]["correct_choice_idx"] = 4
    bad = tmp_path / "aokvqa_v1p0_val.json"
    text = json.dumps(data, indent=2)
    bad.write_text(text)
    with pytest.raises(InputError, match="question_id 2B8B6hdeTF3t7PYB9yYsFt: correct_choice_idx 4") as e:
        list(read_dataset("aokvqa", bad))
    second_start = text.index("\n  {", text.index("22jbM")) + 1  # the line of the second element's "{"
    assert e.value.line == text[:second_start].count("\n") + 1
