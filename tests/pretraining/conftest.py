from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "pretrain"


def tiny_config(tmp: Path, **changes) -> dict:
    """configs/pretrain/tiny.yaml as a dict, reading a copy of the fixture under ``tmp`` (the cache
    is written beside the data), with top-level / ``data.`` / ``engine.`` ``changes``."""
    data_dir = tmp / "data"
    if not data_dir.exists():
        shutil.copytree(FIXTURE, data_dir, ignore=shutil.ignore_patterns("*.py", ".kemm-pretrain-cache"))
    cfg = yaml.safe_load((ROOT / "configs" / "pretrain" / "tiny.yaml").read_text())
    cfg["data"]["train"] = str(data_dir)
    cfg["kg"] = str(ROOT / "tests" / "fixtures" / "rdf" / "tiny.ttl")
    for key, value in changes.items():
        if key.startswith("data."):
            cfg["data"][key[5:]] = value
        elif key.startswith("engine."):
            cfg["engine"][key[7:]] = value
        else:
            cfg[key] = value
    return cfg


def write_config(tmp: Path, name: str = "cfg.yaml", **changes) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(tiny_config(tmp, **changes)))
    return path


@pytest.fixture
def tiny_cfg(tmp_path):
    return lambda **changes: tiny_config(tmp_path, **changes)
