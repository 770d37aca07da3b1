import json

import numpy as np
import pytest
from PIL import Image

from kemm.errors import InputError, KemmError
from kemm.linking.detectors import COCO80, HFDetector, image_detections
from tests.linking.conftest import make_tiny_yolos


@pytest.fixture(scope="module")
def tiny_yolos_dir(tmp_path_factory):
    return make_tiny_yolos(tmp_path_factory.mktemp("tiny_yolos"))


@pytest.fixture(scope="module")
def tiny_owlvit_dir(tmp_path_factory):
    """A randomly initialised OWL-ViT (hidden 32, 32 px images) with a character-level CLIP tokenizer."""
    import string

    import torch
    from transformers import (
        CLIPTokenizer,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    d = tmp_path_factory.mktemp("tiny_owlvit")
    # id 0 must not start a query: OWL-ViT treats queries whose first token is 0 as padding
    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2, "<|unk|>": 3}
    for c in string.ascii_lowercase:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (d / "vocab.json").write_text(json.dumps(vocab))
    (d / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(
        str(d / "vocab.json"), str(d / "merges.txt"), unk_token="<|unk|>", pad_token="<|endoftext|>"
    )
    small = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4}
    cfg = OwlViTConfig(
        text_config={
            **small,
            "vocab_size": len(vocab),
            "max_position_embeddings": 16,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 2,
        },
        vision_config={**small, "image_size": 32, "patch_size": 16},
        projection_dim=32,
    )
    torch.manual_seed(0)
    OwlViTForObjectDetection(cfg).save_pretrained(d)
    size = {"height": 32, "width": 32}
    OwlViTProcessor(
        image_processor=OwlViTImageProcessor(size=size, crop_size=size), tokenizer=tok
    ).save_pretrained(d)
    return d


@pytest.fixture
def image_file(tmp_path):
    arr = (np.random.default_rng(0).random((48, 80, 3)) * 255).astype("uint8")
    path = tmp_path / "kitchen.png"
    Image.fromarray(arr).save(path)
    return path


def test_hf_detector_from_local_tiny_checkpoint(tiny_yolos_dir, image_file):
    found = HFDetector(str(tiny_yolos_dir), threshold=0.0).detect(image_file)
    assert (found.image_id, found.width, found.height) == ("kitchen.png", 80, 48)
    dets = found.objects
    assert len(dets) == 5  # one per detection token
    for d in dets:
        assert d.label in ("apple", "knife") and 0.0 <= d.score <= 1.0
        assert d.box.w >= 0 and d.box.h >= 0 and -1 <= d.box.x <= 81 and -1 <= d.box.y <= 49
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    assert HFDetector(str(tiny_yolos_dir), threshold=1.01).detect(image_file).objects == []


def test_open_vocabulary_detector_with_text_queries(tiny_owlvit_dir, image_file):
    det = HFDetector(str(tiny_owlvit_dir), threshold=0.0, text_queries=["apple", "knife"])
    assert det.zero_shot
    dets = det.detect(image_file).objects
    assert len(dets) == 4  # (32 / 16) ** 2 patches, one box each
    assert {d.label for d in dets} <= {"apple", "knife"}
    with pytest.raises(KemmError, match="give text queries"):
        HFDetector(str(tiny_owlvit_dir))


def test_missing_detector_is_a_clear_error(tmp_path):
    with pytest.raises(KemmError, match="cannot load detector"):
        HFDetector(str(tmp_path / "none"))


def test_unreadable_and_truncated_images(tmp_path, image_file, tiny_yolos_dir):
    """Images are decoded by ImageRef.open, whose errors name the file."""
    det = HFDetector(str(tiny_yolos_dir), threshold=0.0)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(InputError, match="bad.jpg: cannot decode image"):
        det.detect(bad)
    cut = tmp_path / "cut.png"
    cut.write_bytes(image_file.read_bytes()[:300])
    with pytest.raises(InputError, match="cut.png: cannot decode image"):
        det.detect(cut)
    with pytest.raises(InputError, match="missing.png: image not found"):
        det.detect(tmp_path / "missing.png")


def write_coco(tmp_path, results):
    ann = tmp_path / "ann.json"
    ann.write_text(
        json.dumps(
            {
                "images": [{"id": 7, "file_name": "kitchen.png"}],
                "categories": [{"id": 1, "name": "apple"}, {"id": 2, "name": "knife"}],
            }
        )
    )
    res = tmp_path / "res.json"
    res.write_text(json.dumps(results))
    return ann, res


def test_coco_results(tmp_path):
    ann, res = write_coco(
        tmp_path,
        [
            {"image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.9},
            {"image_id": 7, "category_id": 1, "bbox": [5, 6, 7, 8], "score": 0.2},
        ],
    )
    found = image_detections(res, tmp_path / "kitchen.png", ann, threshold=0.5)
    assert found.image_id == 7 and found.image.path == tmp_path / "kitchen.png"
    assert [(d.label, d.box.xyxy(), d.score) for d in found.objects] == [("knife", (1.0, 2.0, 4.0, 6.0), 0.9)]
    # without an annotation file: COCO-80 names, the image id given
    assert [d.label for d in image_detections(res, tmp_path / "x.jpg", image_id=7).objects] == [
        "bicycle",
        "person",
    ]


def test_coco_image_id_mismatch_is_a_clear_error(tmp_path):
    ann, res = write_coco(tmp_path, [{"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(
        InputError, match=r"res.json:1: detection \(image_id 99\): image_id is not in .*ann.json"
    ):
        image_detections(res, tmp_path / "kitchen.png", ann)
    with pytest.raises(InputError, match="no detection for image id 7; the file has image ids 99"):
        image_detections(res, tmp_path / "kitchen.png", image_id=7)
    with pytest.raises(InputError, match="give the image id"):
        image_detections(res, tmp_path / "kitchen.png")


def test_coco_bad_rows(tmp_path):
    _, res = write_coco(tmp_path, [{"image_id": 7, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(
        InputError, match=r"res.json:1: detection \(image_id 7\): needs image_id, category_id"
    ):
        image_detections(res, tmp_path / "kitchen.png", image_id=7)
    _, res = write_coco(tmp_path, [{"image_id": 7, "category_id": 12, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(InputError, match="category_id 12 is not a COCO-80 category"):
        image_detections(res, tmp_path / "kitchen.png", image_id=7)


def test_coco80_has_80_categories():
    assert len(COCO80) == 80 and COCO80[1] == "person" and COCO80[90] == "toothbrush"
