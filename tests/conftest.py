from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def tiny_kg():
    """The dozen-entity KG of tests/fixtures/rdf/tiny.ttl, ingested."""
    from kemm.kg import ingest

    kg, _ = ingest([FIXTURES / "rdf" / "tiny.ttl"])
    return kg
