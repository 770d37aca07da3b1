from __future__ import annotations

from pathlib import Path

import pytest

DATASETS_DIR = Path(__file__).parents[1] / "fixtures" / "datasets"


@pytest.fixture
def datasets_dir() -> Path:
    """tests/fixtures/datasets: tiny files in each dataset's real format."""
    return DATASETS_DIR
