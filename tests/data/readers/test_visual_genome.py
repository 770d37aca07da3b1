import json
import shutil

import pytest

from kemm.data import Box, SceneGraph, read_dataset
from kemm.errors import InputError


@pytest.fixture
def vg(datasets_dir):
    return datasets_dir / "visual_genome"


def test_scene_graphs_id_and_inline_variants(vg):
    graphs = list(
        read_dataset("visual-genome", vg / "scene_graphs.json", images_dir=vg, check_images="decode")
    )
    assert all(isinstance(g, SceneGraph) for g in graphs)
    first, second = graphs
    # id references
    assert [o.label for o in first.objects] == ["man", "shirt", "sidewalk"]
    assert first.objects[0].attributes == ["standing", "smiling"] and first.objects[0].synsets == ["man.n.01"]
    assert first.objects[2].names == ["sidewalk", "pavement"] and first.objects[2].box == Box(0, 5, 8, 1)
    assert first.triples() == [("man", "wears", "shirt"), ("man", "ON", "sidewalk")]
    assert first.relationships[0].id == 15927 and first.relationships[0].synsets == ("wear.v.01",)
    # inline objects: the bench is added, the tree is matched to the listed object by id
    assert [o.label for o in second.objects] == ["tree", "bench"]
    assert second.triples() == [("bench", "next to", "tree")]
    # image_data.json: sizes and the VG_100K / VG_100K_2 folder of each image
    assert (first.width, first.height) == (8, 6) and first.image.path == vg / "VG_100K_2/1.jpg"
    assert second.image.path == vg / "VG_100K/2.jpg" and second.image.open().size == (8, 8)


def test_images_found_without_image_data(vg, tmp_path):
    shutil.copy(vg / "scene_graphs.json", tmp_path)
    graphs = list(read_dataset("vg", tmp_path / "scene_graphs.json", images_dir=vg))
    assert [g.image.key for g in graphs] == ["VG_100K_2/1.jpg", "VG_100K/2.jpg"]
    assert graphs[0].width is None


def test_relationship_to_unknown_object(vg, tmp_path):
    data = json.loads((vg / "scene_graphs.json").read_text())
    data[0]["relationships"][1]["object_id"] = 42
    bad = tmp_path / "scene_graphs.json"
    bad.write_text(json.dumps(data, indent=1))
    with pytest.raises(InputError, match="image_id 1: relationship 15928: object_id 42 is not among") as e:
        list(read_dataset("visual-genome", bad))
    assert e.value.line == 2  # the record starts on line 2 (after "[")
    stream = read_dataset("visual-genome", bad, on_error="skip")
    graphs = list(stream)
    assert graphs[0].triples() == [("man", "wears", "shirt")] and len(stream.skipped) == 1


def test_missing_image(vg, tmp_path):
    images = tmp_path / "images"
    (images / "VG_100K").mkdir(parents=True)
    shutil.copy(vg / "VG_100K/2.jpg", images / "VG_100K")
    with pytest.raises(InputError, match="image_id 1: image not found: .*VG_100K_2/1.jpg"):
        list(read_dataset("visual-genome", vg / "scene_graphs.json", images_dir=images))
    stream = read_dataset("visual-genome", vg / "scene_graphs.json", images_dir=images, on_error="skip")
    assert [g.image_id for g in stream] == [2] and len(stream.skipped) == 1
