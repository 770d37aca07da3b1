"""Ids are a function of the sources: two ingests in fresh interpreters give byte-identical stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def _ingest(sources: list[Path], out: Path, hash_seed: str) -> None:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    cmd = [sys.executable, "-c", "from kemm.cli import main; main()", "kg", "ingest", *map(str, sources)]
    subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, env=env, check=True, capture_output=True)


def _files(d: Path) -> dict[str, bytes]:
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}


def test_reingest_with_other_hash_seeds_gives_identical_store(fixtures, tmp_path):
    # every reader, merged into one KG; Turtle and RDF/XML hold a blank node, which rdflib names at random
    sources = [
        *(fixtures / "rdf" / f"tiny.{ext}" for ext in ("ttl", "nt", "nq", "rdf", "jsonld", "n3", "trig")),
        fixtures / "conceptnet" / "assertions-sample.csv",
        fixtures / "tsv" / "tiny_split",
        fixtures / "wordnet",
    ]
    sources = [s.relative_to(ROOT) for s in sources]  # meta.json records each path as given
    _ingest(sources, tmp_path / "a", "1")
    _ingest(sources, tmp_path / "b", "2")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert "meta.json" in a and "triples.npy" in a
    assert a.keys() == b.keys()
    for name in a:  # the whole store, meta.json included: it holds no time, duration or machine detail
        assert a[name] == b[name], f"{name} differs between two ingests of the same sources"
