import json

import numpy as np
import pytest

from kemm.errors import KemmError
from kemm.kg import KnowledgeGraph


def test_round_trip_is_exact_and_memory_mapped(tiny_kg, tmp_path):
    tiny_kg.entities.labels[0] = "tab\there\nnewline \\ backslash"
    tiny_kg.save(tmp_path / "kg")
    kg = KnowledgeGraph.load(tmp_path / "kg", verify=True)
    assert isinstance(kg.triples, np.memmap) and kg.triples.dtype == np.int32
    np.testing.assert_array_equal(kg.triples, tiny_kg.triples)
    assert kg.entities.keys == tiny_kg.entities.keys
    assert kg.entities.labels == tiny_kg.entities.labels
    assert kg.entities.aliases == tiny_kg.entities.aliases
    assert kg.entities.descriptions == tiny_kg.entities.descriptions
    assert kg.relations.labels == tiny_kg.relations.labels
    assert list(kg.attributes.rows()) == list(tiny_kg.attributes.rows())
    meta = json.loads((tmp_path / "kg" / "meta.json").read_text())
    assert (meta["num_entities"], meta["num_relations"], meta["num_triples"]) == (15, 6, 15)
    assert meta["sources"][0]["sha256"] and "triples.npy" in meta["files"]


def test_crash_while_saving_leaves_old_graph(tiny_kg, tmp_path, monkeypatch):
    target = tmp_path / "kg"
    tiny_kg.save(target)
    before = (target / "triples.npy").read_bytes()

    import kemm.kg.store as store

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.np, "save", boom)
    with pytest.raises(RuntimeError):
        tiny_kg.save(target)
    assert (target / "triples.npy").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kg"]  # no temporary directory left behind
    KnowledgeGraph.load(target)


def test_incomplete_directory_does_not_load(tiny_kg, tmp_path):
    tiny_kg.save(tmp_path / "kg")
    (tmp_path / "kg" / "meta.json").unlink()
    with pytest.raises(KemmError, match="meta.json is missing"):
        KnowledgeGraph.load(tmp_path / "kg")


def test_corruption_is_detected_by_verify(tiny_kg, tmp_path):
    tiny_kg.save(tmp_path / "kg")
    with open(tmp_path / "kg" / "entities.tsv", "a") as f:
        f.write("")
    p = tmp_path / "kg" / "relations.tsv"
    p.write_text(p.read_text().replace("is a", "is an"))
    KnowledgeGraph.load(tmp_path / "kg")  # the fast path does not hash
    with pytest.raises(KemmError, match="checksum"):
        KnowledgeGraph.load(tmp_path / "kg", verify=True)


def test_missing_directory(tmp_path):
    with pytest.raises(KemmError, match="no such KG directory"):
        KnowledgeGraph.load(tmp_path / "nope")


def test_bytes_per_triple(tiny_kg):
    assert tiny_kg.triples.nbytes / tiny_kg.num_triples == 12


def test_save_removes_temporaries_of_a_killed_save(tiny_kg, tmp_path):
    import fcntl
    import os

    target = tmp_path / "kg"
    dead = tmp_path / ".kg.tmp-0badf00d"  # what a killed ingest leaves: nobody holds its lock
    dead.mkdir()
    (dead / "entities.tsv").write_text("half\n")
    live = tmp_path / ".kg.tmp-11ve0000"  # a save still running in another process holds its lock
    live.mkdir()
    (live / "entities.tsv").write_text("half\n")
    other = tmp_path / ".other.tmp-0badf00d"  # another store's: not ours to remove
    other.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        tiny_kg.save(target)
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kg.tmp-11ve0000", ".other.tmp-0badf00d", "kg"]
    KnowledgeGraph.load(target, verify=True)


def test_temporaries_of_a_killed_ingest_process_go_with_the_next_ingest(fixtures, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "kg"
    # an ingest that stalls while writing the store, then is killed (SIGKILL: no clean-up runs)
    script = (
        "import time, numpy\n"
        "numpy.save = lambda *a, **k: time.sleep(60)  # triples.npy is written after the TSV files\n"
        "from kemm.cli import main\n"
        "main()\n"
    )
    cmd = [sys.executable, "-c", script, "kg", "ingest", str(fixtures / "rdf" / "tiny.nt"), "-o", str(target)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".kg.tmp-*/entities.tsv")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [p.name[:8] for p in tmp_path.iterdir()] == [".kg.tmp-"]
    from tests.conftest import run_cli

    run_cli("kg", "ingest", fixtures / "rdf" / "tiny.nt", "--out", target)
    assert [p.name for p in tmp_path.iterdir()] == ["kg"]
