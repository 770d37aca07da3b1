from __future__ import annotations

from pathlib import Path

import pytest


def build_tiny_benchmark(out: Path) -> Path:
    """The tiny benchmark of tests/data/benchmark (a few 64-pixel images), built into ``out``."""
    from kemm.data.benchmark import make_benchmark
    from kemm.kg import ingest
    from tests.data.benchmark.conftest import TINY_CONFIG, TINY_KG, TINY_SPRITES

    kg, _ = ingest([TINY_KG])
    make_benchmark(kg, out, TINY_CONFIG, sprite_dir=TINY_SPRITES)
    return out


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory) -> Path:
    """The tiny benchmark, built once for the evaluation tests."""
    return build_tiny_benchmark(tmp_path_factory.mktemp("bench") / "tiny")
