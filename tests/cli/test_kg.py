"""The ``kemm kg`` commands end to end, through typer's test runner."""

import json

import networkx as nx
import numpy as np
import pytest

from kemm.kg import KnowledgeGraph
from kemm.kg.export import load_pyg
from tests.conftest import run_cli as run


@pytest.fixture
def kg_dir(fixtures, tmp_path):
    out = tmp_path / "kg"
    run("kg", "ingest", fixtures / "rdf" / "tiny.ttl", fixtures / "tsv" / "tiny_split", "--out", out)
    return out


def test_ingest_merges_and_writes_meta(kg_dir):
    meta = json.loads((kg_dir / "meta.json").read_text())
    assert meta["num_triples"] == 15 + 16
    assert [s["format"] for s in meta["sources"]] == ["turtle", "tsv"]


def test_ingest_does_not_import_torch(fixtures, tmp_path):
    """`kemm kg ingest` is a KG tool: torch's import (seconds) must not be part of its start-up."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kemm.cli import main\n"
        f"sys.argv = ['kemm', 'kg', 'ingest', {str(fixtures / 'rdf' / 'tiny.ttl')!r}, '--out', {str(tmp_path / 'kg')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (tmp_path / "kg" / "meta.json").is_file()
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout


def test_stats_json(kg_dir):
    res = run("kg", "stats", kg_dir, "--json", "--verify")
    stats = json.loads(res.stdout)
    assert stats["num_triples"] == 31 and stats["splits"] == {"train": 12, "valid": 2, "test": 2}


def test_split_writes_splits(kg_dir):
    res = run("kg", "split", kg_dir, "--seed", "3", "--ratios", "0.6", "0.2", "0.2", "--drop-inverse-leakage")
    assert "train=" in res.stdout
    kg = KnowledgeGraph.load(kg_dir, verify=True)
    assert sum(len(v) for v in kg.splits.values()) == kg.num_triples
    assert kg.meta["split"]["seed"] == 3


def test_export_all_formats(kg_dir, tmp_path):
    run("kg", "export", kg_dir, "--to", "ntriples", "--out", tmp_path / "kg.nt")
    back = tmp_path / "back"
    run("kg", "ingest", tmp_path / "kg.nt", "--out", back)
    kg, kg2 = KnowledgeGraph.load(kg_dir), KnowledgeGraph.load(back)
    assert kg2.num_triples == kg.num_triples and kg2.num_entities == kg.num_entities

    def by_label(g):
        return sorted(
            (g.entity_label(h), g.relations.label(r), g.entity_label(t)) for h, r, t in g.triples.tolist()
        )

    assert by_label(kg2) == by_label(kg)
    run("kg", "export", kg_dir, "--to", "pyg", "--out", tmp_path / "kg.safetensors")
    data = load_pyg(tmp_path / "kg.safetensors")  # safetensors: nothing unpickled
    np.testing.assert_array_equal(data.edge_type.numpy(), kg.triples[:, 1])
    assert data.num_nodes == kg.num_entities
    run("kg", "export", kg_dir, "--to", "networkx", "--out", tmp_path / "kg.graphml")
    assert (tmp_path / "kg.graphml").stat().st_size > 0
    run("kg", "export", kg_dir, "--to", "networkx", "--out", tmp_path / "kg.json")
    g = nx.node_link_graph(json.loads((tmp_path / "kg.json").read_text()), edges="edges")
    assert g.number_of_edges() == kg.num_triples


def test_neighbors(kg_dir):
    res = run("kg", "neighbors", kg_dir, "knives")
    assert "kitchen" in res.stdout and "tool" in res.stdout


def test_errors_are_messages_not_tracebacks(kg_dir, tmp_path, monkeypatch, capsys):
    import sys

    from kemm import cli

    bad = tmp_path / "bad.nt"
    bad.write_text("<http://a> <http://b> <http://c> .\nnot rdf\n")
    monkeypatch.setattr(sys, "argv", ["kemm", "kg", "ingest", str(bad), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err.replace("\n", "") and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    monkeypatch.setattr(sys, "argv", ["kemm", "kg", "neighbors", str(kg_dir), "spoon"])
    with pytest.raises(SystemExit):
        cli.main()
    assert "unknown entity 'spoon'" in capsys.readouterr().err


def test_skip_writes_report(tmp_path):
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://a> <http://b> <http://c> .\nnot rdf\n<http://c> <http://b> <http://d> .\n")
    run("kg", "ingest", bad, "--out", tmp_path / "o", "--on-error", "skip")
    report = (tmp_path / "o" / "skipped.tsv").read_text().splitlines()
    assert report[0] == "source\tline\treason\ttext"
    assert report[1].split("\t")[1] == "2" and report[1].endswith("not rdf")
    assert json.loads((tmp_path / "o" / "meta.json").read_text())["skipped"] == 1


def _ingest_process(tmp_path, fixtures, parse_block: str, **popen):
    """``kemm kg ingest --workers 2`` in a child process whose parsing workers run ``parse_block``."""
    import os
    import subprocess
    import sys

    script = (
        "import os, signal, sys, time\n"
        # as a terminal starts a command: a job started in the background (`make test &`, nohup)
        # inherits SIGINT ignored, and Python keeps it so
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import kemm.kg.readers.ntriples as nt\n"
        "real_parse_block, nt.BLOCK_BYTES = nt.parse_block, 256  # several blocks from a tiny file\n"
        f"def parse_block(*args):\n{parse_block}\n"
        "nt.parse_block = parse_block\n"
        "from kemm.cli import main\n"
        "main()\n"
    )
    src = fixtures / "rdf" / "tiny.nt"
    cmd = [
        sys.executable,
        "-c",
        script,
        "kg",
        "ingest",
        str(src),
        "-o",
        str(tmp_path / "o"),
        "--workers",
        "2",
    ]
    env = {**os.environ, "COLUMNS": "40"}  # a narrow console must not wrap the one-line error
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)


def test_ctrl_c_stops_ingest_without_worker_tracebacks(fixtures, tmp_path):
    import os
    import signal
    import time

    started = tmp_path / "started"
    # the first block takes its time; the other worker parses the next ones, then waits for work
    body = (
        f"    if args[1] == 1:\n        open({str(started)!r}, 'w').close()\n        time.sleep(60)\n"
        "    return real_parse_block(*args)"
    )
    proc = _ingest_process(tmp_path, fixtures, body, start_new_session=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # time for the other worker to go idle
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert started.exists() and proc.returncode != 0
    for noise in ("Traceback", "KeyboardInterrupt", "Process-"):  # "Process ForkProcess-2:" starts one
        assert noise not in err, err
    assert not (tmp_path / "o").exists()


def test_a_killed_worker_is_a_one_line_error(fixtures, tmp_path):
    proc = _ingest_process(tmp_path, fixtures, "    os.kill(os.getpid(), signal.SIGKILL)")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "a parsing process ended abruptly" in line and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_workers_end_with_a_killed_ingest(fixtures, tmp_path):
    import os
    import time

    started = tmp_path / "started"
    body = f"    open({str(started)!r}, 'w').close()\n    time.sleep(60)"
    proc = _ingest_process(tmp_path, fixtures, body, start_new_session=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    group = [int(p) for p in os.popen(f"pgrep -g {proc.pid}").read().split() if int(p) != proc.pid]
    assert group, "no worker processes"
    proc.kill()  # SIGKILL: the main process runs no clean-up
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{p}") for p in group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") for p in group)
