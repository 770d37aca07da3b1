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


def test_fact_dropout_takes_a_training_fact_out_of_its_subgraph(finetune_setup, tmp_path):
    import torch

    from kemm.evaluation.finetune import base
    from kemm.evaluation.finetune.multiple_choice import MultipleChoiceTask
    from kemm.models.knowledge import ExampleKnowledge

    g = base.Grounded(
        [1, 2],
        ExampleKnowledge(
            [],
            nodes=[4, 9, 6],
            node_types=["question", "answer", "other"],
            edges=[(0, 3, 1), (1, 5, 0), (0, 3, 2)],
        ),
    )
    states = lambda h, r, t: (h, r, t) in {(4, 3, 9), (9, 5, 4)}  # noqa: E731 - the fact and its inverse
    dropped = base.without_fact(g, states)
    assert (
        dropped is not None
        and dropped.knowledge.edges == [(0, 3, 2)]
        and g.knowledge.edges == [(0, 3, 1), (1, 5, 0), (0, 3, 2)]
    )
    assert base.without_fact(dropped, states) is None and base.without_fact(g, None) is None
    assert dropped.knowledge.nodes == [4, 9, 6]  # the answer node is a seed: it stays, unconnected
    lama = base.Grounded(
        [1],
        ExampleKnowledge(
            [],
            nodes=[4, 9, 6, 7],
            node_types=["question", "other", "other", "other"],
            edges=[(0, 3, 1), (0, 3, 2), (1, 2, 3)],
        ),
    )
    cut = base.without_fact(lama, states)
    # the object (9) and the node reached only through it (7) go, as retrieval without the fact would
    assert cut is not None and cut.knowledge.nodes == [4, 6] and cut.knowledge.edges == [(0, 3, 1)]

    cfg = base.FinetuneConfig(fact_dropout=0.5)
    task = MultipleChoiceTask(None, "gnn", [["a"], ["b"], ["c"]], [0, 0, 0], [], [], cfg, 0)  # type: ignore[arg-type]
    task.dropped = [["a-"], None, ["c-"]]
    task.generator = torch.Generator().manual_seed(0)
    seen = [tuple(x[0] for x in task.train_items([0, 1, 2])) for _ in range(200)]
    assert {s[1] for s in seen} == {"b"}  # nothing to drop
    assert 0.35 < sum(s[0] == "a-" for s in seen) / 200 < 0.65 and {s[2] for s in seen} == {"c", "c-"}
    task.cfg = base.FinetuneConfig(fact_dropout=0.0)
    assert task.train_items([0, 2]) == [["a"], ["c"]]

    # end to end: a gnn run with every training fact dropped trains and records the setting
    _, kg_dir, _, kge = finetune_setup
    from kemm.evaluation.finetune.multiple_choice import finetune_multiple_choice

    cfg = ablation(finetune_setup, finetune={**TINY_FINETUNE, "epochs": 1, "fact_dropout": 1.0})
    res = finetune_multiple_choice(cfg, "csqa", "gnn", 0, "fact-in-kg", kg_dir, kge, tmp_path / "drop")
    assert res.info["finetune"]["fact_dropout"] == 1.0 and res.info["train_facts_in_subgraph"] > 0


def test_every_finetuner_has_a_test():
    from pathlib import Path

    from kemm.evaluation.ablation import FINETUNERS

    here = Path(__file__).parent
    files = {
        "csqa": "test_multiple_choice.py",
        "okvqa": "test_vqa.py",
        "lama": "test_cloze.py",
        "lama-zero-shot": "test_cloze.py",
    }
    assert set(FINETUNERS) == set(files), "a fine-tuner was registered without a test here"
    assert all((here / f).is_file() for f in files.values())
