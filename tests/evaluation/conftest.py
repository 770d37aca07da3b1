from __future__ import annotations

from pathlib import Path

import pytest


def build_tiny_benchmark(out: Path) -> Path:
    """The tiny benchmark of tests/data/benchmark (a few 64-pixel images) with its ``test_seen``
    split, built into ``out``."""
    from kemm.data.benchmark import make_benchmark
    from kemm.kg import ingest
    from tests.data.benchmark.conftest import TINY_KG, TINY_SEEN_CONFIG, TINY_SPRITES

    kg, _ = ingest([TINY_KG])
    make_benchmark(kg, out, TINY_SEEN_CONFIG, sprite_dir=TINY_SPRITES)
    return out


def split_kg_and_kge_config(root: Path) -> tuple[Path, Path]:
    """The tiny benchmark's KG with a train/valid/test split saved in ``root/kg``, and a two-epoch
    TransE config ``root/kge.yaml`` (dim 8) to train on it."""
    import yaml

    from kemm.kg import ingest
    from kemm.kg.split import split_triples
    from tests.data.benchmark.conftest import TINY_KG

    kg, _ = ingest([TINY_KG])
    kg.splits = split_triples(kg.triples, seed=0, num_entities=kg.num_entities).as_dict()
    kg_dir = kg.save(root / "kg")
    kge_yaml = root / "kge.yaml"
    kge_yaml.write_text(
        yaml.safe_dump({"model": "transe", "model_kwargs": {"dim": 8}, "epochs": 2, "batch_size": 64})
    )
    return kg_dir, kge_yaml


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory) -> Path:
    """The tiny benchmark, built once for the evaluation tests."""
    return build_tiny_benchmark(tmp_path_factory.mktemp("bench") / "tiny")
