"""Validation objects found by the KG-picture detector (predicted links), the image side of ITC
with its region entities, and retrieval by the links alone, on the tiny benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.run import pretrain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    from tests.evaluation.conftest import build_tiny_benchmark

    return build_tiny_benchmark(tmp_path_factory.mktemp("ptbench") / "tiny")


def config(bench: Path, **data) -> PretrainConfig:
    from tests.data.benchmark.conftest import TINY_KG

    cfg = yaml.safe_load((ROOT / "configs" / "pretrain" / "tiny.yaml").read_text())
    cfg["data"].update({"train": str(bench), **data})
    cfg["kg"] = str(TINY_KG)
    cfg["engine"]["max_epochs"] = 1
    cfg["objectives"] = {"itc": {"embed_dim": 32, "image_knowledge": True}, "masked-objects": {}}
    return PretrainConfig.from_dict(cfg)


def test_links_alone_retrieve_the_annotated_images(bench, tmp_path):
    """Captions name their image's objects, so with the annotated objects the overlap of the links
    ranks the right image first for most captions: far above chance."""
    m = pretrain(config(bench), tmp_path / "run").metrics
    assert m["valid/t2i_r1_links"] > 0.5 > m["valid/t2i_chance"]
    assert m["valid/t2i_r5_links"] >= m["valid/t2i_r1_links"]
    assert "valid/moc_acc_seen" in m or "valid/moc_acc_heldout" in m


def test_detected_validation_objects(bench, tmp_path):
    m = pretrain(config(bench, valid_objects="detected"), tmp_path / "run").metrics
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    quality = saved["valid_detection"]
    assert quality["images"] == 6 and 0.0 <= quality["entity_recall"] <= 1.0
    dets = json.loads((tmp_path / "run" / "detections_valid.json").read_text())["detections"]
    assert dets and all(d["entity"].startswith("https://") for d in dets)
    # the detector's guesses are links, not targets: no masked-object validation
    assert not any(k.startswith("valid/moc_acc") for k in m)
    assert 0.0 <= m["valid/t2i_r1_links"] <= 1.0 and "valid/t2i_r1" in m


def test_unknown_valid_objects_is_a_config_error(bench):
    from kemm.errors import KemmError

    with pytest.raises(KemmError, match="valid_objects"):
        config(bench, valid_objects="gold")
