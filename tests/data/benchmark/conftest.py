from __future__ import annotations

from pathlib import Path

import pytest

from kemm.data.benchmark import BenchmarkConfig, SceneConfig, make_benchmark
from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.kg import ingest

BENCH_FIXTURES = Path(__file__).parents[2] / "fixtures" / "benchmark"
TINY_KG = BENCH_FIXTURES / "tiny_commonsense.ttl"
TINY_SPRITES = BENCH_FIXTURES / "emoji"

#: a handful of small images: fast, yet every split gets questions of every task
TINY_CONFIG = BenchmarkConfig(
    seed=3, images={"train": 16, "val": 6, "test": 6}, scene=SceneConfig(image_size=64)
)
#: TINY_CONFIG plus the optional test_seen split (TINY_CONFIG has none: it lacks the key)
TINY_SEEN_CONFIG = TINY_CONFIG.with_overrides(images={**TINY_CONFIG.images, "test_seen": 6})


@pytest.fixture(scope="session")
def tiny_commonsense_kg():
    kg, skipped = ingest([TINY_KG])
    assert not skipped
    return kg


@pytest.fixture(scope="session")
def tiny_knowledge(tiny_commonsense_kg) -> BenchmarkKnowledge:
    return BenchmarkKnowledge.from_kg(tiny_commonsense_kg)


@pytest.fixture(scope="session")
def tiny_benchmark(tiny_commonsense_kg, tmp_path_factory) -> Path:
    """The benchmark built once from the fixture KG and sprites."""
    out = tmp_path_factory.mktemp("bench") / "tiny"
    make_benchmark(tiny_commonsense_kg, out, TINY_CONFIG, sprite_dir=TINY_SPRITES)
    return out


@pytest.fixture(scope="session")
def tiny_benchmark_seen(tiny_commonsense_kg, tmp_path_factory) -> Path:
    """The tiny benchmark with a ``test_seen`` split, built once."""
    out = tmp_path_factory.mktemp("bench") / "tiny_seen"
    make_benchmark(tiny_commonsense_kg, out, TINY_SEEN_CONFIG, sprite_dir=TINY_SPRITES)
    return out
