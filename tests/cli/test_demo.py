"""``kemm demo``: the main job end to end on a dozen-entity KG, rerun, changed, and killed at random points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kemm.errors import KemmError

FIXTURES = Path(__file__).parents[1] / "fixtures"

#: every stage in order; each leaves OUT/stages/NAME.json
STAGES = ["kg", "kge", "benchmark", "link", "pretrain-tokens", "pretrain-none", "evaluate"]


def tiny_config(tmp_path: Path, **changes) -> Path:
    """configs/demo.yaml's shape at test size: the fixture KG and sprites, hidden 32, 32-px images."""
    cfg = {
        "sources": [str(FIXTURES / "benchmark" / "tiny_commonsense.ttl")],
        "bundled": [str(FIXTURES / "benchmark" / "tiny_commonsense.ttl"), str(FIXTURES / "wordnet")],
        "device": "cpu",
        "kge": {
            "model": "complex",
            "model_kwargs": {"dim": 8},
            "loop": "lcwa",
            "loss": "softmax",
            "optimizer": "adam",
            "lr": 0.05,
            "batch_size": 64,
            "epochs": 3,
            "eval_every": 3,
            "checkpoint_every": 1,
            "tensorboard": False,
            "seed": 0,
        },
        "benchmark": {
            "scale": 0.008,
            "seed": 3,
            "image_size": 32,
            "sprites": str(FIXTURES / "benchmark" / "emoji"),
        },
        "link": {"hops": 1, "max_nodes": 8},
        "fusion": "tokens",
        "pretrain": {
            "data": {
                "batch_size": 8,
                "valid_batch_size": 8,
                "num_workers": 0,
                "max_length": 16,
                "max_nodes": 8,
            },
            "model": {
                "text": {
                    "hidden_size": 32,
                    "num_hidden_layers": 1,
                    "num_attention_heads": 4,
                    "intermediate_size": 64,
                },
                "vision": {
                    "hidden_size": 32,
                    "num_hidden_layers": 1,
                    "num_attention_heads": 4,
                    "intermediate_size": 64,
                    "image_size": 32,
                    "patch_size": 8,
                },
            },
            "objectives": {"itc": {"embed_dim": 32}, "mlm": {}, "entity-denoising": {}},
            "engine": {"max_epochs": 2, "seed": 0, "checkpoint_every": 1},
            "num_threads": 1,
        },
        "evaluation": {
            "tasks": ["linkpred", "lama", "lama-zero-shot", "csqa", "okvqa"],
            "seeds": [0],
            "settings": ["fact-in-kg"],
            "finetune": {"epochs": 2, "batch_size": 8, "max_length": 16, "max_nodes": 8, "num_threads": 1},
        },
    }
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            cfg[section][name] = value
        else:
            cfg[section] = value
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def demo_process(config: Path, out: Path) -> subprocess.Popen:
    """``kemm demo`` as the console script runs it, in a process group of its own (to kill it whole)."""
    cmd = [
        sys.executable,
        "-c",
        "from kemm.cli import main; main()",
        "demo",
        "-c",
        str(config),
        "-o",
        str(out),
    ]
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )


def run_demo(config: Path, out: Path) -> tuple[float, str]:
    start = time.monotonic()
    proc = demo_process(config, out)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    return time.monotonic() - start, stdout + stderr


def figures(out: Path) -> dict:
    return json.loads((out / "report" / "demo.json").read_text(encoding="utf-8"))["figures"]


def log_lines(out: Path, since: int = 0) -> list[str]:
    return (out / "demo.log").read_text(encoding="utf-8").splitlines()[since:]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path, float]:
    """One uninterrupted demo: (config, out, seconds)."""
    root = tmp_path_factory.mktemp("demo")
    config = tiny_config(root)
    seconds, _ = run_demo(config, root / "out")
    return config, root / "out", seconds


def test_demo_runs_every_stage_into_one_report(finished):
    _, out, _ = finished
    report = out / "report"
    for name in ("demo.json", "demo.md", "report.json", "report.md"):
        assert (report / name).is_file(), name
    assert list((report / "plots").glob("*.png"))
    figs = figures(out)
    assert list(figs) == STAGES
    assert figs["kg"]["entities"] > 10 and figs["kg"]["train triples"] > 0
    assert figs["kg"]["bundled entities"] > figs["kg"]["entities"]  # with the WordNet fixture
    assert 0 < figs["kge"]["test MRR"] <= 1
    assert figs["link"]["questions"] > 0
    # the QA figures: the knowledge model and its `fusion: none` twin side by side, chance beside them
    csqa = figs["evaluate"]["CommonsenseQA accuracy (fact in KG)"]
    assert {"knowledge", "none", "chance"} <= set(csqa) and csqa["chance"] == pytest.approx(0.2)
    # the same models on questions about entities seen in training (the benchmark's test_seen)
    seen = figs["evaluate"]["LAMA P@1 (words) (seen entities, fact in KG)"]
    assert {"knowledge", "none", "chance"} <= set(seen) and 0 < seen["chance"] < 1
    zero = figs["evaluate"]["LAMA P@1 zero-shot (words) (fact in KG)"]  # the checkpoints as they are
    assert {"knowledge", "none", "chance"} <= set(zero)
    # each stage's config is written out, and its command logged, so it can be rerun alone
    assert (
        yaml.safe_load((out / "configs" / "pretrain_tokens.yaml").read_text())["model"]["fusion"] == "tokens"
    )
    assert yaml.safe_load((out / "configs" / "pretrain_none.yaml").read_text())["model"]["fusion"] == "none"
    log = "\n".join(log_lines(out))
    assert (
        f"kemm pretrain --config {out / 'configs' / 'pretrain_none.yaml'} --out {out / 'pretrain-none'}"
        in log
    )
    assert "training:" in log and "epoch" in log  # training progress reaches the log file
    for stage in STAGES:
        assert json.loads((out / "stages" / f"{stage}.json").read_text())["digest"]
    md = (report / "demo.md").read_text()
    assert "| figure | `tokens` | `none` | chance | train prior |" in md


def test_a_second_run_reuses_every_stage(finished):
    config, out, first = finished
    before = len(log_lines(out))
    seconds, _ = run_demo(config, out)
    new = log_lines(out, before)
    assert sum("reused" in line for line in new) == len(STAGES), new
    assert not any("kemm kge train" in line for line in new)
    assert seconds < first


def test_a_changed_setting_redoes_its_stage_and_those_after_it(finished, tmp_path):
    config, out, _ = finished
    changed = tiny_config(
        tmp_path, **{"evaluation.finetune": {"epochs": 1, "batch_size": 8, "max_length": 16}}
    )
    before = len(log_lines(out))
    run_demo(changed, out)
    new = "\n".join(log_lines(out, before))
    assert "stage kg: reused" in new and "stage pretrain-none: reused" in new
    assert "stage evaluate: redone (config commands" not in new  # the command line is the same ...
    assert "stage evaluate: redone (input" in new  # ... the config file it reads is not
    assert "stage evaluate: reused" not in new
    run_demo(config, out)  # back to the module's settings for the tests after this one


def _check_artifacts(out: Path) -> None:
    """Every artifact on disk is whole: JSON parses, every JSON line parses, safetensors open.
    Hidden names are the temporary files of atomic writes (never read); ``*.partial`` is the
    grounding's append-only journal (its torn last line is dropped on resume)."""
    from safetensors import safe_open

    for p in out.rglob("*"):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(out).parts):
            continue
        if p.suffix == ".json":
            json.loads(p.read_text(encoding="utf-8"))
        elif p.suffix == ".jsonl" and not p.name.endswith(".partial"):
            for line in p.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        elif p.suffix == ".safetensors":
            with safe_open(str(p), "pt") as f:
                for key in f.keys():
                    f.get_tensor(key)
        elif p.suffix in (".yaml", ".yml"):
            yaml.safe_load(p.read_text(encoding="utf-8"))


def test_killed_at_random_points_it_resumes_to_the_uninterrupted_figures(finished, tmp_path):
    config, reference, seconds = finished
    out = tmp_path / "out"
    rng = random.Random(12)
    for fraction in sorted(rng.uniform(0.15, 0.9) for _ in range(3)):
        proc = demo_process(config, out)
        time.sleep(fraction * seconds)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        if out.exists():
            _check_artifacts(out)
    run_demo(config, out)
    _check_artifacts(out)
    log = "\n".join(log_lines(out))
    assert "reused" in log or "resuming from" in log  # what was done before a kill was kept
    got, want = figures(out), figures(reference)
    assert got.keys() == want.keys()
    # same settings, same seeds: runs resumed from checkpoints reach the uninterrupted run's figures
    for stage in STAGES:
        assert got[stage] == want[stage], stage


def test_a_bad_setting_is_one_error_before_anything_is_written(tmp_path):
    config = tiny_config(tmp_path, **{"pretrain.optimizer_options": {"lr": "fast"}})
    proc = demo_process(config, tmp_path / "out")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert str(config) in line and "lr" in line
    assert not (tmp_path / "out").exists()


def test_the_shipped_demo_config_is_valid_for_every_stage():
    from kemm.cli.demo import load_config
    from kemm.evaluation.finetune import FinetuneConfig

    cfg = load_config(Path(__file__).parents[2] / "configs" / "demo.yaml")  # every section checked
    ft = FinetuneConfig.from_dict(cfg.evaluation["finetune"])
    assert cfg.fusion == "gnn" and ft.object_links == "detected" and 0 < ft.fact_dropout < 1
    assert len(cfg.evaluation["seeds"]) >= 2 and set(cfg.evaluation["settings"]) == {
        "fact-in-kg",
        "fact-removed",
    }


def test_fusion_options_go_to_the_knowledge_run_only(tmp_path):
    from kemm.cli.demo import _pretrain_dict, load_config

    shipped = (Path(__file__).parents[2] / "configs" / "demo.yaml").read_text()
    assert "\nfusion: gnn" in shipped

    def config(options: str) -> Path:
        path = tmp_path / "demo.yaml"
        path.write_text(shipped.replace("\nfusion: gnn", f"\nfusion_options: {options}\nfusion: gnn", 1))
        return path

    cfg = load_config(config("{mention_states: true}"))
    assert cfg.fusion_options == {"mention_states": True}
    knowledge, twin = (_pretrain_dict(cfg, tmp_path, f) for f in (cfg.fusion, "none"))
    assert knowledge["model"]["fusion_options"] == {"mention_states": True}
    assert "fusion_options" not in twin["model"]
    with pytest.raises(KemmError, match="did you mean 'mention_states'"):
        load_config(config("{mention_stats: true}"))
