import io
import shutil
import tarfile

import pytest
from PIL import Image

from kemm.data.examples import Box, ImageRef, VQAExample
from kemm.errors import InputError


def test_box_geometry():
    b = Box(2, 1, 3, 4)
    assert b.xyxy() == (2, 1, 5, 5)
    assert b.area == 12
    assert Box.from_xyxy(2, 1, 5, 5) == b
    assert b.iou(b) == 1.0
    assert b.iou(Box(5, 5, 1, 1)) == 0.0
    assert Box(0, 0, 2, 2).iou(Box(1, 0, 2, 2)) == pytest.approx(2 / 6)


def test_image_ref_file(datasets_dir):
    ref = ImageRef(path=datasets_dir / "coco/val2017/000000000139.jpg")
    assert ref.exists()
    img = ref.open()
    assert img.size == (8, 6) and img.mode == "RGB"


def test_image_ref_missing_names_the_file(tmp_path):
    ref = ImageRef(path=tmp_path / "nope.jpg")
    assert not ref.exists()
    with pytest.raises(InputError, match="image not found") as e:
        ref.open()
    assert e.value.path == str(tmp_path / "nope.jpg")


def test_image_ref_truncated_and_undecodable(datasets_dir, tmp_path):
    truncated = datasets_dir / "broken/truncated.jpg"
    ref = ImageRef(path=truncated)
    assert ref.exists()  # the file is there; only decoding shows the damage
    with pytest.raises(InputError, match="cannot decode image.*truncated") as e:
        ref.open()
    assert e.value.path == str(truncated)
    text = tmp_path / "not-an-image.png"
    text.write_text("hello")
    with pytest.raises(InputError, match="cannot decode image"):
        ImageRef(path=text).open()


def test_image_ref_tar_member_and_bytes(datasets_dir):
    shard = datasets_dir / "image_text/shards/shard-000000.tar"
    ref = ImageRef(path=shard, member="000001.png")
    assert ref.exists() and not ImageRef(path=shard, member="zzz.png").exists()
    assert ref.open().getpixel((0, 0)) == (0, 255, 0)
    assert "shard-000000.tar[000001.png]" in ref.location
    with pytest.raises(InputError, match="no such member"):
        ImageRef(path=shard, member="zzz.png").open()
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(buf, format="PNG")
    mem = ImageRef(data=buf.getvalue())
    assert mem.exists() and mem.open().size == (3, 2)
    with tarfile.open(shard) as tar:
        assert tar.extractfile("000001.png").read() == ref.read_bytes()


def test_image_ref_without_location():
    ref = ImageRef(key="000000000139.jpg")
    assert not ref.exists()
    with pytest.raises(InputError, match="images directory"):
        ref.open()


def test_image_ref_open_keeps_mode(datasets_dir, tmp_path):
    p = tmp_path / "gray.png"
    Image.new("L", (2, 2), 7).save(p)
    assert ImageRef(path=p).open(mode=None).mode == "L"
    assert ImageRef(path=p).open().mode == "RGB"
    shutil.copy(datasets_dir / "image_text/folder/cat.png", tmp_path / "cat.png")
    assert ImageRef(path=tmp_path / "cat.png").open().getpixel((0, 0)) == (250, 250, 250)


# ---------------------------------------------------------------------------------------- VQA accuracy


def test_vqa_example_accuracy():
    ex = VQAExample(
        question_id=1, image_id=1, image=ImageRef(key="x"), question="?", answers=["yes"] * 3 + ["no"] * 7
    )
    assert ex.accuracy("no") == 1.0
    assert ex.accuracy("Yes.") == pytest.approx(0.9)  # kemm.evaluation.metrics.vqa_soft_accuracy
    unannotated = VQAExample(question_id=2, image_id=1, image=ImageRef(key="x"), question="?")
    with pytest.raises(ValueError, match="no human answers"):
        unannotated.accuracy("yes")
