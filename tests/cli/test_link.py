"""``kemm link`` and ``kemm kg subgraph`` end to end through typer's test runner."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli as run

EX = "http://example.org/kg/"


@pytest.fixture(scope="module")
def kg_dir(tmp_path_factory):
    from tests.conftest import FIXTURES

    out = tmp_path_factory.mktemp("kg") / "kitchen"
    run("kg", "ingest", FIXTURES / "linking" / "kitchen.ttl", "--out", out)
    return out


def test_link_text_json(kg_dir):
    res = run(
        "link", "text", "Knives and apples in the kitchen", "--kg", kg_dir, "--encoder", "none", "--json"
    )
    data = json.loads(res.stdout)
    assert [lk["key"] for lk in data["links"]] == [EX + "knife", EX + "apple", EX + "kitchen"]
    assert data["pipeline"] == "blank:en"


def test_link_text_table_and_empty(kg_dir):
    res = run("link", "text", "a bat in the cave", "--kg", kg_dir, "--encoder", "none")
    assert "bat_animal" in res.stdout and "exact" in res.stdout
    res = run("link", "text", " ", "--kg", kg_dir, "--encoder", "none")
    assert "empty text" in res.output


def test_link_image_from_coco_detections(kg_dir, tmp_path):
    img = tmp_path / "kitchen.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype="uint8")).save(img)
    ann = tmp_path / "ann.json"
    ann.write_text(
        json.dumps(
            {
                "images": [{"id": 3, "file_name": "kitchen.png"}],
                "categories": [{"id": 1, "name": "banana"}, {"id": 2, "name": "knife"}],
            }
        )
    )
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 3, "category_id": 2, "bbox": [0, 0, 4, 4], "score": 0.9}]))
    res = run(
        "link",
        "image",
        img,
        "--kg",
        kg_dir,
        "--detections",
        dets,
        "--annotations",
        ann,
        "--encoder",
        "none",
        "--json",
    )
    assert [d["key"] for d in json.loads(res.stdout)] == [EX + "knife"]
    dets.write_text(json.dumps([{"image_id": 4, "category_id": 2, "bbox": [0, 0, 4, 4], "score": 0.9}]))
    bad = run(
        "link",
        "image",
        img,
        "--kg",
        kg_dir,
        "--detections",
        dets,
        "--annotations",
        ann,
        "--encoder",
        "none",
        ok=False,
    )
    assert bad.exit_code != 0 and "dets.json:1: detection (image_id 4): image_id is not in" in str(
        bad.exception
    )


def test_link_image_with_a_detector(kg_dir, tmp_path):
    from tests.linking.conftest import make_tiny_yolos

    detector = make_tiny_yolos(tmp_path / "yolos")
    img = tmp_path / "kitchen.png"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype("uint8")).save(img)
    res = run(
        "link",
        "image",
        img,
        "--kg",
        kg_dir,
        "--detector",
        detector,
        "--threshold",
        "0",
        "--encoder",
        "none",
        "--json",
    )
    links = json.loads(res.stdout)
    assert len(links) == 5 and {d["key"] for d in links} <= {EX + "apple", EX + "knife"}
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    res = run("link", "image", bad, "--kg", kg_dir, "--detector", detector, "--encoder", "none", ok=False)
    assert res.exit_code != 0 and "bad.png" in str(res.exception)


def test_link_labels_writes_map(kg_dir, tmp_path):
    out = tmp_path / "coco.json"
    run("link", "labels", "coco80", "--kg", kg_dir, "--out", out, "--encoder", "none")
    labels = json.loads(out.read_text())["labels"]
    assert labels["knife"]["key"] == EX + "knife" and labels["person"]["key"] is None


def test_link_batch(kg_dir, tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": {
                    "stem": "Where is the ice cream?",
                    "choices": [{"label": "A", "text": "freezer"}, {"label": "B", "text": "cave"}],
                },
            }
        )
        + "\n"
    )
    out = tmp_path / "g.jsonl"
    res = run("link", "batch", src, "--kg", kg_dir, "--out", out)
    assert "1 grounded" in res.stdout
    rec = json.loads(out.read_text())
    assert rec["choices"][0]["subgraph"]["num_nodes"] >= 2


def test_kg_subgraph(kg_dir, tmp_path):
    out = tmp_path / "sub.pt"
    res = run(
        "kg", "subgraph", kg_dir, "--seeds", "apple", "--answers", "kitchen", "--hops", "1", "--out", out
    )
    assert "subgraph:" in res.stdout and out.exists()
    import torch

    data = torch.load(out, weights_only=False)
    assert data.seed_mask.sum() == 2 and data.answer_mask.sum() == 1
    run("kg", "subgraph", kg_dir, "--seeds", "apple", "--out", tmp_path / "sub.graphml")
    assert (tmp_path / "sub.graphml").read_text().startswith("<?xml")
