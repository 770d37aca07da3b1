"""The seen split: the same fine-tuned model also scores ``test_seen`` (entities seen in training),
and its figures become the result's ``seen`` group beside the held-out entities of ``test``."""

from __future__ import annotations

import json
import shutil

import pytest

from kemm.evaluation.ablation import FINETUNERS
from kemm.evaluation.finetune.base import SEEN_DIR
from tests.evaluation.finetune.conftest import TINY_FINETUNE, ablation


def _ids(bench, task: str, split: str) -> list[str]:
    if task == "okvqa":
        q = json.loads((bench / "okvqa" / f"OpenEnded_kemm_{split}_questions.json").read_text())
        return sorted(str(x["question_id"]) for x in q["questions"])
    folder = "csqa" if task == "csqa" else "lama"
    lines = (bench / folder / f"{split}.jsonl").read_text().splitlines()
    key = "id" if task == "csqa" else "uuid"
    return sorted(str(json.loads(x)[key]) for x in lines)


def _run(setup, run_dir, task, fusion="none", **changes):
    cfg = ablation(setup, tasks=[task], finetune={**TINY_FINETUNE, "epochs": 1}, **changes)
    _, kg_dir, _, kge = setup
    return FINETUNERS[task](cfg, task, fusion, 0, "fact-in-kg", kg_dir, kge, run_dir)


@pytest.mark.parametrize("task", ["csqa", "okvqa", "lama"])
def test_seen_split_is_scored_by_the_same_model(finetune_setup, tmp_path, task):
    bench = finetune_setup[0]
    res = _run(finetune_setup, tmp_path / task, task)
    seen_ids = _ids(bench, task, "test_seen")
    lines = [
        json.loads(x) for x in (tmp_path / task / SEEN_DIR / "predictions.jsonl").read_text().splitlines()
    ]
    assert sorted(p["id"] for p in lines) == seen_ids and seen_ids
    # the evaluated split stays the held-out one
    main = [json.loads(x) for x in (tmp_path / task / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in main) == _ids(bench, task, "test")
    seen = res.groups["seen"]
    assert seen["count"] == len(seen_ids) and res.info["seen_split"] == "test_seen"
    metric = next(iter(res.metrics))
    mean = sum(float(p["correct"]) for p in lines) / len(lines)
    if task != "lama":  # lama's first metric is a rank metric, not the mean of `correct`
        assert seen[metric] == pytest.approx(mean)
    assert json.loads((tmp_path / task / SEEN_DIR / "metrics.json").read_text())["task"] == task


def test_no_seen_split_when_off_or_missing(finetune_setup, tmp_path):
    res = _run(finetune_setup, tmp_path / "off", "csqa", seen_split=None)
    assert "seen" not in res.groups and res.info["seen_split"] is None
    assert not (tmp_path / "off" / SEEN_DIR).exists()
    # an older benchmark without the split's file: skipped, not an error
    bench, *rest = finetune_setup
    old = tmp_path / "old_bench"
    shutil.copytree(bench, old)
    (old / "csqa" / "test_seen.jsonl").unlink()
    res = _run((old, *rest), tmp_path / "old", "csqa")
    assert "seen" not in res.groups and res.info["seen_split"] is None


def test_rerun_with_another_seen_split_runs_again(finetune_setup, tmp_path, caplog):
    first = _run(finetune_setup, tmp_path / "run", "csqa", seen_split=None)
    assert "seen" not in first.groups
    with caplog.at_level("INFO"):
        again = _run(finetune_setup, tmp_path / "run", "csqa")
    assert "exists; reused" not in caplog.text and again.groups["seen"]["count"] > 0
    caplog.clear()
    with caplog.at_level("INFO"):
        third = _run(finetune_setup, tmp_path / "run", "csqa")
    assert "exists; reused" in caplog.text and third.groups["seen"] == again.groups["seen"]
