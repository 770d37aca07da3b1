import json
import shutil

import pytest

from kemm.data import Box, ImageAnnotations, ImageTextPair, read_dataset
from kemm.errors import InputError


@pytest.fixture
def coco(datasets_dir):
    return datasets_dir / "coco"


def _copy_with(tmp_path, src, edit):
    data = json.loads(src.read_text())
    edit(data)
    out = tmp_path / src.name
    out.write_text(json.dumps(data))
    return out


def test_captions(coco):
    pairs = list(
        read_dataset(
            "coco-captions", coco / "annotations/captions_train2017.json", images_dir=coco / "train2017"
        )
    )
    assert all(isinstance(p, ImageTextPair) for p in pairs)
    assert [(p.id, p.extra["image_id"]) for p in pairs] == [("661611", 9), ("661977", 9), ("122312", 25)]
    assert (
        pairs[1].text == "A meal is presented in brightly colored plastic trays."
    )  # trailing newline stripped
    assert pairs[2].image.path == coco / "train2017/000000000025.jpg"
    assert pairs[2].image.open().size == (6, 8) == (pairs[2].extra["width"], pairs[2].extra["height"])


def test_captions_without_images_dir(coco):
    pairs = list(read_dataset("coco-captions", coco / "annotations/captions_train2017.json"))
    assert len(pairs) == 3 and pairs[0].image.path is None and pairs[0].image.key == "000000000009.jpg"


def test_captions_unknown_image_id(coco, tmp_path):
    bad = _copy_with(
        tmp_path,
        coco / "annotations/captions_train2017.json",
        lambda d: d["annotations"].append({"image_id": 77, "id": 5, "caption": "x"}),
    )
    with pytest.raises(InputError, match=r"annotations\[3\] \(id 5\): image_id 77 is not in images") as e:
        list(read_dataset("coco-captions", bad))
    assert e.value.path == str(bad)
    stream = read_dataset("coco-captions", bad, on_error="skip")
    assert len(list(stream)) == 3 and len(stream.skipped) == 1


def test_captions_missing_image(coco, tmp_path):
    images = tmp_path / "train2017"
    images.mkdir()
    shutil.copy(coco / "train2017/000000000009.jpg", images)
    ann = coco / "annotations/captions_train2017.json"
    with pytest.raises(InputError, match="image not found: .*000000000025.jpg"):
        list(read_dataset("coco-captions", ann, images_dir=images))
    stream = read_dataset("coco-captions", ann, images_dir=images, on_error="skip")
    assert [p.id for p in stream] == ["661611", "661977"]
    assert len(stream.skipped) == 1


def test_instances(coco):
    items = list(
        read_dataset(
            "coco-instances", coco / "annotations/instances_val2017.json", images_dir=coco / "val2017"
        )
    )
    assert all(isinstance(x, ImageAnnotations) for x in items)
    assert [(x.image_id, len(x.objects)) for x in items] == [(139, 3), (285, 0)]
    person, chair, crowd = items[0].objects
    assert (person.label, person.category_id, person.box, person.score) == (
        "person",
        1,
        Box(2, 1, 3, 3),
        None,
    )
    assert (chair.label, chair.id, chair.area, chair.iscrowd) == ("chair", 1941808, 10.0, False)
    assert crowd.iscrowd and crowd.box.area == 48
    assert (items[0].width, items[0].height) == (8, 6)
    only = list(
        read_dataset("coco-detection", coco / "annotations/instances_val2017.json", include_empty=False)
    )
    assert [x.image_id for x in only] == [139]


def test_instances_entity_field(coco, tmp_path):
    def edit(d):
        d["categories"][0]["kg_key"] = "person.n.01"

    out = _copy_with(tmp_path, coco / "annotations/instances_val2017.json", edit)
    first = next(iter(read_dataset("coco-instances", out)))
    assert [o.entity for o in first.objects] == ["person.n.01", None, "person.n.01"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda d: d["annotations"][0].update(bbox=[1, 2, 3]),
            r"annotations\[0\] \(id 230831\): bbox should be",
        ),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4]), "bbox should be"),
        (lambda d: d["annotations"][1].update(category_id=999), "category_id 999 is not in categories"),
        (lambda d: d["annotations"][1].update(image_id=1), "image_id 1 is not in images"),
    ],
)
def test_instances_bad_annotation(coco, tmp_path, edit, match):
    bad = _copy_with(tmp_path, coco / "annotations/instances_val2017.json", edit)
    with pytest.raises(InputError, match=match):
        list(read_dataset("coco-instances", bad))
    stream = read_dataset("coco-instances", bad, on_error="skip")
    assert sum(len(x.objects) for x in stream) == 2 and len(stream.skipped) == 1


def test_not_a_coco_file(coco):
    with pytest.raises(InputError, match="no 'categories'"):
        list(read_dataset("coco-instances", coco / "annotations/captions_train2017.json"))


def test_results_with_categories(coco):
    items = list(
        read_dataset(
            "coco-results",
            coco / "annotations/detections_val2017_results.json",
            annotations=coco / "annotations/instances_val2017.json",
            images_dir=coco / "val2017",
        )
    )
    assert [x.image_id for x in items] == [139, 285]  # first appearance
    assert [(o.label, o.score) for o in items[0].objects] == [
        ("person", 0.983),
        ("chair", 0.912),
        ("bear", 0.051),
    ]
    assert items[0].objects[1].box == Box(0.4, 0.6, 2.1, 4.8)
    assert items[1].image.path == coco / "val2017/000000000285.jpg" and items[1].width == 6


def test_results_without_categories(coco):
    items = list(
        read_dataset(
            "coco-results",
            coco / "annotations/detections_val2017_results.json",
            image_template="COCO_val2014_{image_id:012d}.jpg",
        )
    )
    assert [o.label for o in items[1].objects] == ["23"]
    assert items[1].image.key == "COCO_val2014_000000000285.jpg"


def test_results_bad_detection(coco, tmp_path):
    dets = json.loads((coco / "annotations/detections_val2017_results.json").read_text())
    dets[2]["category_id"] = 5
    dets[3]["score"] = "high"
    bad = tmp_path / "detections_val2017_results.json"
    bad.write_text("[\n" + ",\n".join(json.dumps(d) for d in dets) + "\n]")
    ann = coco / "annotations/instances_val2017.json"
    with pytest.raises(InputError, match="category_id 5 is not in the categories") as e:
        list(read_dataset("coco-results", bad, annotations=ann))
    assert e.value.line == 4
    stream = read_dataset("coco-results", bad, annotations=ann, on_error="skip")
    assert [len(x.objects) for x in stream] == [2]
    assert [line for _, line, _, _ in stream.skipped] == [4, 5]
