"""The fine-tuning settings: the shipped config parses, a misspelt key is one error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kemm.errors import KemmError
from kemm.evaluation.ablation import AblationConfig
from kemm.evaluation.finetune import FinetuneConfig

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_config_parses():
    cfg = AblationConfig.from_yaml(ROOT / "configs" / "eval" / "finetune_benchmark.yaml")
    ft = FinetuneConfig.from_dict(cfg.finetune)
    assert cfg.fusions == ["none", "tokens"] and ft.model["text"]["hidden_size"] == 64
    vqa = AblationConfig.from_yaml(ROOT / "configs" / "eval" / "finetune_okvqa.yaml")
    assert vqa.tasks == ["okvqa"] and FinetuneConfig.from_dict(vqa.finetune).epochs == 15
    knowledge = AblationConfig.from_yaml(ROOT / "configs" / "eval" / "knowledge_benchmark.yaml")
    ft = FinetuneConfig.from_dict(knowledge.finetune)
    assert knowledge.fusions == ["none", "gnn"] and len(knowledge.seeds) == 3
    assert ft.object_links == "detected" and ft.fact_dropout == 0.5


def test_bad_settings_are_refused():
    with pytest.raises(KemmError, match="epoch"):
        AblationConfig(benchmark="b", kg="k", tasks=["csqa"], finetune={"epoch": 2})
    with pytest.raises(KemmError, match="comes from the ablation"):
        FinetuneConfig(model={"fusion": "ernie"})
    with pytest.raises(KemmError, match="batch_size must be at least 1"):
        FinetuneConfig(batch_size=0)
    with pytest.raises(KemmError, match="fact_dropout must be between 0 and 1"):
        FinetuneConfig(fact_dropout=1.5)


def test_fusion_options_apply_to_their_fusion_only():
    from kemm.evaluation.finetune.base import setup_run

    knowledge = AblationConfig.from_yaml(ROOT / "configs" / "eval" / "knowledge_benchmark.yaml")
    assert knowledge.fusion_options == {"gnn": {"mention_states": True}}
    gnn, _ = setup_run(knowledge, "gnn", 0)
    none, _ = setup_run(knowledge, "none", 0)
    assert gnn.model["fusion_options"] == {"mention_states": True}
    assert "fusion_options" not in none.model and "fusion_options" not in knowledge.finetune["model"]
    with pytest.raises(KemmError, match=r"fusion_options.gnn: not one of the fusions"):
        AblationConfig(benchmark="b", kg="k", fusions=["none"], fusion_options={"gnn": {"layers": [1]}})
    with pytest.raises(KemmError, match="pre-trained checkpoint"):
        AblationConfig(
            benchmark="b", kg="k", fusions=["gnn"], pretrained={"gnn": "ckpt"}, fusion_options={"gnn": {}}
        )


def test_task_max_nodes_override_max_nodes_for_their_task():
    from kemm.evaluation.finetune.base import setup_run

    knowledge = AblationConfig.from_yaml(ROOT / "configs" / "eval" / "knowledge_benchmark.yaml")
    assert setup_run(knowledge, "gnn", 0, "okvqa")[0].max_nodes == 64
    assert (
        setup_run(knowledge, "gnn", 0, "csqa")[0].max_nodes
        == 16
        == setup_run(knowledge, "gnn", 0)[0].max_nodes
    )
    with pytest.raises(KemmError, match="task_max_nodes.okvqa must be at least 1"):
        FinetuneConfig(task_max_nodes={"okvqa": 0})
