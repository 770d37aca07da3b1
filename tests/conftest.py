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


def run_cli(*args, ok: bool = True):
    """Invoke the ``kemm`` CLI in-process; with ``ok``, assert it exited 0 (showing its output if not)."""
    from typer.testing import CliRunner

    from kemm.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result
