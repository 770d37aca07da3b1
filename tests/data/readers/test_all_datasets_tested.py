"""Meta-test: every registered dataset reader is read by a test, from a fixture in tests/fixtures/datasets."""

from pathlib import Path

from kemm.data import DATASETS

HERE = Path(__file__).parent
FIXTURES = HERE.parents[1] / "fixtures" / "datasets"

# registered name -> (test file in this folder, fixture folder)
TESTED = {
    "coco-captions": ("test_coco.py", "coco"),
    "coco-instances": ("test_coco.py", "coco"),
    "coco-results": ("test_coco.py", "coco"),
    "visual-genome": ("test_visual_genome.py", "visual_genome"),
    "vqav2": ("test_vqa.py", "vqav2"),
    "okvqa": ("test_vqa.py", "okvqa"),
    "aokvqa": ("test_vqa.py", "aokvqa"),
    "commonsenseqa": ("test_multiple_choice.py", "commonsenseqa"),
    "openbookqa": ("test_multiple_choice.py", "openbookqa"),
    "lama": ("test_lama.py", "lama"),
    "lama-trex": ("test_lama.py", "lama/TREx"),
    "lama-google-re": ("test_lama.py", "lama/Google_RE"),
    "lama-conceptnet": ("test_lama.py", "lama/ConceptNet"),
    "lama-squad": ("test_lama.py", "lama/Squad"),
    "image-text-folder": ("test_image_text.py", "image_text/folder"),
    "image-text-jsonl": ("test_image_text.py", "image_text"),
    "webdataset": ("test_image_text.py", "image_text/shards"),
}


def test_every_registered_dataset_has_a_fixture_test():
    assert set(DATASETS.names()) == set(TESTED), "register the new reader's test and fixture here"
    for name, (test, fixture) in TESTED.items():
        source = (HERE / test).read_text()
        assert f'read_dataset("{name}"' in source, f"{name}: {test} never reads it by its registered name"
        folder = FIXTURES / fixture
        assert folder.is_dir() and any(folder.iterdir()), f"{name}: fixture folder {folder} is empty"
