"""`kemm eval ablate` with fine-tuning: `none` and a fusion module on every model-based task, one report."""

from __future__ import annotations

import json

from kemm.evaluation.ablation import run_ablation
from tests.evaluation.finetune.conftest import TINY_FINETUNE, ablation


def test_ablation_finetunes_every_task_per_fusion(finetune_setup, tmp_path):
    cfg = ablation(
        finetune_setup,
        tasks=["csqa", "okvqa", "lama"],
        fusions=["none", "tokens"],
        seeds=[0],
        settings=["fact-removed"],
        finetune={**TINY_FINETUNE, "epochs": 1},
    )
    run_ablation(cfg, tmp_path / "rep")
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert sorted((r["task"], r["fusion"]) for r in doc["runs"]) == [
        (t, f) for t in ("csqa", "lama", "okvqa") for f in ("none", "tokens")
    ]
    assert all(r["setting"] == "fact-removed" for r in doc["runs"])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "fusion: tokens" in md and "fusion: none" in md and "*chance (uniform guess)*" in md


def test_gnn_reads_the_subgraph(finetune_setup, tmp_path):
    from kemm.evaluation.finetune.multiple_choice import finetune_multiple_choice

    cfg = ablation(finetune_setup, finetune={**TINY_FINETUNE, "epochs": 1})
    _, kg_dir, _, kge = finetune_setup
    res = finetune_multiple_choice(cfg, "csqa", "gnn", 0, "fact-in-kg", kg_dir, kge, tmp_path / "gnn")
    assert res.info["fusion"] == "gnn" and 0.0 <= res.metrics["accuracy"] <= 1.0


def test_every_finetuner_has_a_test():
    from pathlib import Path

    from kemm.evaluation.ablation import FINETUNERS

    here = Path(__file__).parent
    files = {"csqa": "test_multiple_choice.py", "okvqa": "test_vqa.py", "lama": "test_cloze.py"}
    assert set(FINETUNERS) == set(files), "a fine-tuner was registered without a test here"
    assert all((here / f).is_file() for f in files.values())
