"""The generated benchmark as a whole: determinism, the knowledge-transfer split, stats and README."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kemm.data.benchmark import SPLITS, BenchmarkConfig, SceneConfig, make_benchmark
from kemm.data.benchmark.build import heldout_of
from kemm.errors import KemmError

from .conftest import TINY_CONFIG, TINY_SEEN_CONFIG, TINY_SPRITES

ROOT = Path(__file__).parents[3]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_same_seed_gives_byte_identical_files(tiny_commonsense_kg, tiny_benchmark, tmp_path):
    again = make_benchmark(tiny_commonsense_kg, tmp_path / "again", TINY_CONFIG, sprite_dir=TINY_SPRITES).path
    first, second = _files(tiny_benchmark), _files(again)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []
    other = BenchmarkConfig(seed=4, images=TINY_CONFIG.images, scene=TINY_CONFIG.scene)
    changed = _files(
        make_benchmark(tiny_commonsense_kg, tmp_path / "other", other, sprite_dir=TINY_SPRITES).path
    )
    assert any(changed.get(k) != v for k, v in first.items() if k.startswith("images/"))


def test_identical_in_another_process_with_another_hash_seed(tiny_benchmark, tmp_path):
    """Reader order and string hashing vary between processes; the files must not."""
    out = tmp_path / "subprocess"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.data.benchmark.conftest import TINY_CONFIG, TINY_KG, TINY_SPRITES\n"
        "from kemm.kg import ingest\n"
        "from kemm.data.benchmark import make_benchmark\n"
        f"make_benchmark(ingest([TINY_KG])[0], {str(out)!r}, TINY_CONFIG, sprite_dir=TINY_SPRITES)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, capture_output=True)
    first, second = _files(tiny_benchmark), _files(out)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []


def test_worker_processes_write_the_same_files(tiny_commonsense_kg, tiny_benchmark, tmp_path):
    out = make_benchmark(
        tiny_commonsense_kg, tmp_path / "par", TINY_CONFIG, sprite_dir=TINY_SPRITES, workers=2
    ).path
    first, second = _files(tiny_benchmark), _files(out)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []


def test_interrupted_build_resumes_to_the_same_files(tiny_commonsense_kg, tiny_benchmark, tmp_path):
    out = tmp_path / "resumed"

    def stop_in_val(task: str, done: int, total: int) -> None:
        if task == "rendering val" and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_benchmark(tiny_commonsense_kg, out, TINY_CONFIG, sprite_dir=TINY_SPRITES, progress=stop_in_val)
    assert not out.exists()
    checkpoint = tmp_path / ".resumed.checkpoint"
    assert len((checkpoint / "train.jsonl").read_text().splitlines()) == TINY_CONFIG.images["train"]
    with open(checkpoint / "val.jsonl", "a") as f:
        f.write('[{"id": 1, "file_na')  # a record cut short by the interruption
    seen: list[tuple[str, int]] = []

    def record(task: str, done: int, total: int) -> None:
        seen.append((task, done))

    make_benchmark(
        tiny_commonsense_kg, out, TINY_CONFIG, sprite_dir=TINY_SPRITES, resume=True, progress=record
    )
    assert (
        ("rendering train", 1) not in seen
        and ("rendering val", 3) in seen
        and ("rendering val", 1) not in seen
    )
    assert not checkpoint.exists()
    first, second = _files(tiny_benchmark), _files(out)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []


def test_checkpoint_of_other_settings_is_refused_or_discarded(tiny_commonsense_kg, tmp_path):
    out = tmp_path / "b"
    images = {"train": 3, "val": 2, "test": 2}
    other = BenchmarkConfig(seed=9, images=images, scene=SceneConfig(image_size=40))

    def stop(task: str, done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_benchmark(tiny_commonsense_kg, out, other, sprite_dir=TINY_SPRITES, progress=stop)
    assert (tmp_path / ".b.checkpoint" / "train.jsonl").is_file()
    same = BenchmarkConfig(seed=10, images=images, scene=other.scene)
    with pytest.raises(KemmError, match=r"cannot resume the benchmark build .*config seed: 9 -> 10"):
        make_benchmark(tiny_commonsense_kg, out, same, sprite_dir=TINY_SPRITES, resume=True)
    make_benchmark(tiny_commonsense_kg, out, same, sprite_dir=TINY_SPRITES)  # without --resume: start over
    fresh = make_benchmark(tiny_commonsense_kg, tmp_path / "fresh", same, sprite_dir=TINY_SPRITES).path
    assert _files(out) == _files(fresh)
    with pytest.raises(KemmError, match="is finished"):
        make_benchmark(tiny_commonsense_kg, out, same, sprite_dir=TINY_SPRITES, resume=True)


def test_layout(tiny_benchmark):
    for split in ("train", "val", "test"):
        for rel in (
            f"annotations/instances_{split}.json",
            f"annotations/captions_{split}.json",
            f"okvqa/OpenEnded_kemm_{split}_questions.json",
            f"okvqa/kemm_{split}_annotations.json",
            f"csqa/{split}.jsonl",
            f"lama/{split}.jsonl",
        ):
            assert (tiny_benchmark / rel).is_file(), rel
        assert len(list((tiny_benchmark / "images" / split).glob("*.jpg"))) == TINY_CONFIG.images[split]
    for rel in ("stats.json", "README.md", "ATTRIBUTION.md", "OFL.txt", "lama/vocab.txt"):
        assert (tiny_benchmark / rel).is_file(), rel
    leftovers = list(tiny_benchmark.parent.glob(".tiny.*"))
    assert not leftovers, "a temporary or checkpoint directory was left behind"


def test_no_training_question_touches_a_heldout_fact(tiny_benchmark, tiny_knowledge):
    stats = json.loads((tiny_benchmark / "stats.json").read_text())
    split = heldout_of(stats)
    assert split.val and split.test and not split.val & split.test
    heldout_labels = {tiny_knowledge.label(k) for k in split.heldout}

    def named(text: str) -> set[str]:
        return {lab for lab in heldout_labels if re.search(rf"\b{re.escape(lab)}\b", text, re.IGNORECASE)}

    for sp in ("train", "val", "test"):
        own = split.of(sp)
        forbidden = split.heldout if sp == "train" else split.heldout - own
        vqa_q = json.loads((tiny_benchmark / "okvqa" / f"OpenEnded_kemm_{sp}_questions.json").read_text())
        vqa_a = json.loads((tiny_benchmark / "okvqa" / f"kemm_{sp}_annotations.json").read_text())
        assert vqa_a["annotations"], f"no VQA questions in {sp}"
        for q, a in zip(vqa_q["questions"], vqa_a["annotations"]):
            k = a["kemm"]
            keys = {k["subject"], *k["objects"], *k["mentions"]}
            assert not keys & forbidden, (sp, q)
            assert (k["subject"] in own) if sp != "train" else True
            if sp == "train":
                assert not named(q["question"]) and not any(named(x["answer"]) for x in a["answers"])
        for r in _jsonl(tiny_benchmark / "csqa" / f"{sp}.jsonl"):
            keys = {r["kemm"]["subject"], *r["kemm"]["choices"]}
            assert not keys & forbidden, (sp, r)
            assert (r["kemm"]["subject"] in own) if sp != "train" else True
            if sp == "train":
                assert not named(r["question"]["stem"])
        for r in _jsonl(tiny_benchmark / "lama" / f"{sp}.jsonl"):
            assert not {r["kemm"]["subject"], r["kemm"]["object"]} & forbidden, (sp, r)
            assert (r["kemm"]["subject"] in own) if sp != "train" else True
    # ... while the held-out entities are pictured and captioned in the training images
    inst = json.loads((tiny_benchmark / "annotations" / "instances_train.json").read_text())
    cats = {c["id"]: c["kg_key"] for c in inst["categories"]}
    pictured = {cats[a["category_id"]] for a in inst["annotations"]}
    assert split.heldout <= pictured
    captions = " ".join(
        c["caption"]
        for c in json.loads((tiny_benchmark / "annotations" / "captions_train.json").read_text())[
            "annotations"
        ]
    )
    assert named(captions) == heldout_labels


@pytest.mark.parametrize("bench", ["tiny_benchmark", "tiny_benchmark_seen"])
def test_stats_and_readme_match_the_files(bench, request):
    tiny_benchmark = request.getfixturevalue(bench)
    stats = json.loads((tiny_benchmark / "stats.json").read_text())
    vocab = (tiny_benchmark / "lama" / "vocab.txt").read_text().splitlines()
    assert set(stats["chance"]["vqa"]) == set(stats["chance"]["cloze"]) == set(stats["splits"])
    for sp in stats["splits"]:
        s = stats["splits"][sp]
        assert s["images"] == len(
            json.loads((tiny_benchmark / f"annotations/instances_{sp}.json").read_text())["images"]
        )
        assert s["vqa_questions"] == len(
            json.loads((tiny_benchmark / f"okvqa/OpenEnded_kemm_{sp}_questions.json").read_text())[
                "questions"
            ]
        )
        assert s["mc_questions"] == len(_jsonl(tiny_benchmark / f"csqa/{sp}.jsonl"))
        assert s["cloze_probes"] == len(_jsonl(tiny_benchmark / f"lama/{sp}.jsonl"))
        assert stats["chance"]["cloze"][sp]["accuracy"] == pytest.approx(1 / len(vocab))
        vqa = stats["chance"]["vqa"][sp]["overall"]
        # the baseline is the train prior; the test-chosen constant is an oracle, bounding any prior
        assert set(vqa) == {"train_prior", "uniform", "oracle_best_constant"}
        assert 0 < vqa["uniform"] <= vqa["oracle_best_constant"] <= 1
        assert vqa["train_prior"] <= vqa["oracle_best_constant"]
    assert stats["chance"]["mc"]["accuracy"] == pytest.approx(0.2)
    readme = (tiny_benchmark / "README.md").read_text()
    assert "20.0%" in readme and "Chance levels" in readme and "SIL Open Font License" in readme


def test_missing_sprite_names_the_file_and_the_fix(tiny_commonsense_kg, tmp_path):
    sprites = tmp_path / "sprites"
    sprites.mkdir()
    for p in TINY_SPRITES.glob("*.png"):
        if p.name != "1f34e.png":  # the apple
            (sprites / p.name).write_bytes(p.read_bytes())
    with pytest.raises(KemmError, match=r"1f34e\.png.*extract_emoji_sprites\.py"):
        make_benchmark(tiny_commonsense_kg, tmp_path / "out", TINY_CONFIG, sprite_dir=sprites)
    assert not (tmp_path / "out").exists()


def test_scale_multiplies_the_image_counts():
    cfg = BenchmarkConfig(
        scale=2.5, images={"train": 10, "val": 2, "test": 3}, scene=SceneConfig(image_size=64)
    )
    assert [cfg.num_images(s) for s in ("train", "val", "test")] == [25, 5, 8]
    with pytest.raises(KemmError):
        BenchmarkConfig(scale=0)


def _split_files(root: Path, splits: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every file of ``splits`` (images, COCO annotations, OK-VQA, CommonsenseQA, LAMA)."""
    paths = [p for sp in splits for p in sorted((root / "images" / sp).iterdir())]
    for sp in splits:
        paths += [root / "annotations" / f"{kind}_{sp}.json" for kind in ("instances", "captions")]
        paths += [root / "okvqa" / f"OpenEnded_kemm_{sp}_questions.json"]
        paths += [root / "okvqa" / f"kemm_{sp}_annotations.json", root / "csqa" / f"{sp}.jsonl"]
        paths += [root / "lama" / f"{sp}.jsonl"]
    paths.append(root / "lama" / "vocab.txt")
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_test_seen_leaves_the_other_splits_byte_identical(tiny_benchmark, tiny_benchmark_seen):
    assert _split_files(tiny_benchmark_seen, SPLITS) == _split_files(tiny_benchmark, SPLITS)
    seen = _split_files(tiny_benchmark_seen, ("test_seen",))
    assert len([k for k in seen if k.startswith("images/test_seen/")]) == TINY_SEEN_CONFIG.images["test_seen"]
    # ids continue after test's
    test, test_seen = (
        json.loads((tiny_benchmark_seen / "annotations" / f"{kind}_{sp}.json").read_text())
        for kind, sp in (("instances", "test"), ("instances", "test_seen"))
    )
    first = test["images"][-1]["id"] + 1
    assert [im["id"] for im in test_seen["images"]] == list(range(first, first + 6))
    assert test_seen["images"][0]["file_name"] == f"kemm_test_seen_{first:012d}.jpg"
    assert test_seen["annotations"][0]["id"] == test["annotations"][-1]["id"] + 1
    stats = json.loads((tiny_benchmark_seen / "stats.json").read_text())
    assert list(stats["splits"]) == [*SPLITS, "test_seen"] and set(stats["heldout"]) == {"val", "test"}


def test_test_seen_is_about_entities_seen_in_training(tiny_benchmark_seen, tiny_knowledge):
    root = tiny_benchmark_seen
    split = heldout_of(json.loads((root / "stats.json").read_text()))
    heldout_labels = {tiny_knowledge.label(k) for k in split.heldout}
    vqa_q = json.loads((root / "okvqa" / "OpenEnded_kemm_test_seen_questions.json").read_text())
    vqa_a = json.loads((root / "okvqa" / "kemm_test_seen_annotations.json").read_text())
    csqa, lama = (_jsonl(root / task / "test_seen.jsonl") for task in ("csqa", "lama"))
    assert vqa_a["annotations"] and csqa and lama
    for q, a in zip(vqa_q["questions"], vqa_a["annotations"], strict=True):
        k = a["kemm"]
        assert not {k["subject"], *k["objects"], *k["mentions"]} & split.heldout, q
        assert not any(re.search(rf"\b{re.escape(lab)}\b", q["question"]) for lab in heldout_labels)
    for r in csqa:
        assert not {r["kemm"]["subject"], *r["kemm"]["choices"]} & split.heldout, r
    for r in lama:
        assert not {r["kemm"]["subject"], r["kemm"]["object"]} & split.heldout, r
    inst = json.loads((root / "annotations" / "instances_test_seen.json").read_text())
    cats = {c["id"]: c["kg_key"] for c in inst["categories"]}
    pictured = {cats[a["category_id"]] for a in inst["annotations"]}
    assert pictured and not pictured & split.heldout
    # the training questions' facts may come back: that is what "seen" means
    train = {(r["kemm"]["subject"], r["kemm"]["relation"]) for r in _jsonl(root / "csqa" / "train.jsonl")}
    assert {(r["kemm"]["subject"], r["kemm"]["relation"]) for r in csqa} & train
    assert "`test_seen` asks only about entities seen in training" in (root / "README.md").read_text()


def test_entity_split_holds_nothing_out_for_test_seen(tiny_benchmark_seen, tiny_knowledge):
    split = heldout_of(json.loads((tiny_benchmark_seen / "stats.json").read_text()))
    assert split.of("test_seen") == frozenset()
    for key in tiny_knowledge.objects:
        seen = key not in split.heldout
        assert split.subject_allowed("test_seen", key) == split.mention_allowed("test_seen", key) == seen


def test_benchmark_without_test_seen_writes_no_test_seen_files(tiny_benchmark):
    assert "test_seen" not in TINY_CONFIG.images
    assert [p for p in tiny_benchmark.rglob("*test_seen*")] == []
    stats = json.loads((tiny_benchmark / "stats.json").read_text())
    assert (
        list(stats["splits"]) == list(stats["chance"]["vqa"]) == list(stats["chance"]["cloze"]) == [*SPLITS]
    )
    assert "test_seen" not in (tiny_benchmark / "README.md").read_text()


def test_interrupted_build_resumes_in_test_seen(tiny_commonsense_kg, tiny_benchmark_seen, tmp_path):
    out = tmp_path / "resumed"

    def stop_in_test_seen(task: str, done: int, total: int) -> None:
        if task == "rendering test_seen" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_benchmark(
            tiny_commonsense_kg, out, TINY_SEEN_CONFIG, sprite_dir=TINY_SPRITES, progress=stop_in_test_seen
        )
    make_benchmark(tiny_commonsense_kg, out, TINY_SEEN_CONFIG, sprite_dir=TINY_SPRITES, resume=True)
    assert _files(out) == _files(tiny_benchmark_seen)


def test_test_seen_image_count_is_optional():
    assert BenchmarkConfig().images["test_seen"] == 250
    assert BenchmarkConfig(scale=0.2).num_images("test_seen") == 50
    assert BenchmarkConfig().splits == (*SPLITS, "test_seen")
    for images in ({"train": 4, "val": 2, "test": 2}, {"train": 4, "val": 2, "test": 2, "test_seen": 0}):
        cfg = BenchmarkConfig(images=images)
        assert cfg.splits == SPLITS and cfg.num_images("test_seen") == 0
    for images in (
        {"train": 4, "val": 2},
        {"train": 4, "val": 2, "test": 2, "test_seen": -1},
        {"train": 4, "val": 2, "test": 2, "extra": 1},
    ):
        with pytest.raises(KemmError, match="images|negative"):
            BenchmarkConfig(images=images)
