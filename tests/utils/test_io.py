"""kemm.utils.io: a safetensors file gets the same bytes whatever order its writer put the header in;
files and directories written by kemm get the permissions of the user's umask."""

import contextlib
import json
import os
import stat
import struct
import threading

import pytest
import torch
import yaml
from safetensors.torch import load_file, safe_open, save

from kemm.utils.io import atomic_directory, atomic_write, sort_safetensors_header

TENSORS = {"b.weight": torch.arange(6.0).view(2, 3), "a.bias": torch.ones(3, dtype=torch.long)}
METADATA = {"format": "pt", "model_type": "single-stream"}


def _reordered(data: bytes, reverse: bool) -> bytes:
    """``data`` with its header keys (and the metadata's) in forward or reverse order, same length."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__")
    order = sorted(header, reverse=reverse)
    meta = {k: meta[k] for k in sorted(meta, reverse=reverse)}
    new = {"__metadata__": meta, **{k: header[k] for k in order}}
    text = json.dumps(new, separators=(",", ":")).encode()
    assert len(text) <= n
    return data[:8] + text.ljust(n, b" ") + data[8 + n :]


def test_any_header_order_gives_the_same_bytes(tmp_path):
    data = save(TENSORS, metadata=METADATA)
    files = []
    for reverse in (False, True):
        path = tmp_path / f"{reverse}.safetensors"
        path.write_bytes(_reordered(data, reverse))
        files.append(path)
    assert files[0].read_bytes() != files[1].read_bytes()
    for path in files:
        sort_safetensors_header(path)
    assert files[0].read_bytes() == files[1].read_bytes()
    loaded = load_file(str(files[1]))
    assert loaded.keys() == TENSORS.keys()
    for k, v in TENSORS.items():
        assert torch.equal(loaded[k], v)
    with safe_open(str(files[1]), "pt") as f:
        assert f.metadata() == METADATA


@contextlib.contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_atomic_writes_get_the_umask_permissions(tmp_path, mask, file_mode, dir_mode):
    with _umask(mask):
        with atomic_write(tmp_path / "a.txt") as f:
            f.write("x")
        with atomic_write(tmp_path / "b.bin", mode="wb") as f:
            f.write(b"x")
        (tmp_path / "c.txt").write_text("old")
        os.chmod(tmp_path / "c.txt", 0o600)
        with atomic_write(tmp_path / "c.txt") as f:  # a replaced file gets them too
            f.write("new")
        with atomic_directory(tmp_path / "d") as d:
            (d / "inner.txt").write_text("x")
            with atomic_write(d / "sub" / "e.txt") as f:
                f.write("x")
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "b.bin") == _mode(tmp_path / "c.txt") == file_mode
    assert (tmp_path / "c.txt").read_text() == "new"
    assert _mode(tmp_path / "d") == _mode(tmp_path / "d" / "sub") == dir_mode
    assert _mode(tmp_path / "d" / "sub" / "e.txt") == file_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.txt", "d"]  # no temporaries


def test_atomic_write_from_many_threads(tmp_path):
    """The umask is never read by setting it: concurrent writers all get whole files and 0666 & ~umask."""
    mask = os.umask(0o022)
    os.umask(mask)

    def write(i):
        for j in range(20):
            with atomic_write(tmp_path / f"{i}-{j % 3}.txt") as f:
                f.write(f"{i} {j}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 12 and {_mode(f) for f in files} == {0o666 & ~mask}
    assert {f.read_text() for f in files} == {f"{i} {j}" for i in range(4) for j in (17, 18, 19)}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_kg_export_and_a_kge_run_get_the_umask_permissions(tmp_path):
    from tests.conftest import FIXTURES, run_cli

    with _umask(0o022):
        run_cli("kg", "ingest", FIXTURES / "tsv" / "tiny_split", "--out", tmp_path / "kg")
        for to, name in (("ntriples", "kg.nt"), ("pyg", "kg.safetensors"), ("networkx", "kg.graphml")):
            run_cli("kg", "export", tmp_path / "kg", "--to", to, "--out", tmp_path / "out" / name)
        cfg = tmp_path / "c.yaml"
        cfg.write_text(yaml.safe_dump({"model": "transe", "model_kwargs": {"dim": 4}, "epochs": 1}))
        run_cli("kge", "train", "--kg", tmp_path / "kg", "--config", cfg, "--out", tmp_path / "run")
    for name in ("kg.nt", "kg.safetensors", "kg.graphml"):
        assert _mode(tmp_path / "out" / name) == 0o644, name
    assert _mode(tmp_path / "out") == _mode(tmp_path / "kg") == 0o755
    assert {_mode(f) for f in (tmp_path / "kg").rglob("*") if f.is_file()} == {0o644}
    run_dir = tmp_path / "run"
    checkpoint = (run_dir / "checkpoint").resolve()
    assert checkpoint.name.startswith(".checkpoint-")
    for d in (run_dir, run_dir / "model", checkpoint):
        assert _mode(d) == 0o755, d
    for f in ("config.yaml", "kg.json", "metrics.json", "fingerprint.json", "model/model.safetensors"):
        assert _mode(run_dir / f) == 0o644, f
    assert {_mode(f) for f in checkpoint.iterdir()} == {0o644}
