from __future__ import annotations

import pytest

from kemm.models.configuration import TINY_VIT

#: the tiny fine-tuning settings: hidden 32, 2 layers, 32-px images, a few epochs (seconds on one core)
TINY_FINETUNE = {
    "model": {
        "text": {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 64,
        },
        "vision": TINY_VIT,
    },
    "epochs": 8,
    "batch_size": 8,
    "lr": 0.003,
    "max_length": 32,
    "max_nodes": 8,
    "num_threads": 1,
}


@pytest.fixture(scope="session")
def finetune_setup(tiny_benchmark, tmp_path_factory):
    """``(benchmark, KG dir with a split, KGE run)`` over the tiny benchmark's KG."""
    from kemm.evaluation.ablation import AblationConfig, _train_kge
    from tests.evaluation.conftest import split_kg_and_kge_config

    root = tmp_path_factory.mktemp("ft")
    kg_dir, kge_yaml = split_kg_and_kge_config(root)
    cfg = AblationConfig(benchmark=str(tiny_benchmark), kg=str(kg_dir), fusions=[], kge_config=str(kge_yaml))
    kge = _train_kge(cfg, kg_dir, 0, root / "kge")
    return tiny_benchmark, kg_dir, kge_yaml, kge


def ablation(setup, **changes):
    from kemm.evaluation.ablation import AblationConfig

    bench, kg_dir, kge_yaml, _ = setup
    fields = {
        "benchmark": str(bench),
        "kg": str(kg_dir),
        "tasks": ["csqa"],
        "fusions": ["none"],
        "split": "test",
        "kge_config": str(kge_yaml),
        "finetune": TINY_FINETUNE,
    }
    fields.update(changes)
    return AblationConfig(**fields)
