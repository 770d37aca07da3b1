"""The ablation runner on the tiny benchmark: KGs per setting, one KGE run per (setting, seed), one report."""

from __future__ import annotations

import json

import pytest

from kemm.errors import InputError, KemmError
from kemm.evaluation.ablation import AblationConfig, run_ablation


@pytest.fixture(scope="module")
def setup(tiny_benchmark, tmp_path_factory):
    from tests.evaluation.conftest import split_kg_and_kge_config

    kg_dir, kge = split_kg_and_kge_config(tmp_path_factory.mktemp("abl"))
    return tiny_benchmark, kg_dir, kge


def test_runs_and_reports_both_settings(setup, tmp_path):
    bench, kg_dir, kge = setup
    cfg = AblationConfig(
        benchmark=str(bench),
        kg=str(kg_dir),
        tasks=["linkpred", "factverify", "csqa"],
        fusions=[],
        seeds=[0, 1],
        kge_config=str(kge),
    )
    run_ablation(cfg, tmp_path / "rep")
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    runs = doc["runs"]
    assert sorted((r["task"], r["setting"], r["seed"]) for r in runs) == [
        (task, setting, seed)
        for task in ("factverify", "linkpred", "linkpred-facts")
        for setting in ("fact-in-kg", "fact-removed")
        for seed in (0, 1)
    ]
    assert doc["seeds"] == [0, 1] and doc["git"] is None or "commit" in doc["git"]
    assert set(doc["baselines"]) == {"csqa", "factverify"} and doc["baselines"]["csqa"]["chance"] == 0.2
    removed = json.loads((tmp_path / "rep" / "kg_fact_removed" / "meta.json").read_text())["facts_removed"]
    assert removed["facts"] > 0 and removed["triples_removed"] >= removed["facts_found"] > 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## linkpred: mrr" in md and "| fusion: kge |" in md and "## csqa: accuracy" in md
    assert "| *chance (uniform guess)* | 20.0 | 20.0 |" in md and "## factverify: accuracy" in md
    assert (tmp_path / "rep" / "plots" / "linkpred_settings.png").is_file()
    assert any("one KGE run" in s for s in doc["shared"])


def test_config_is_checked(setup, tmp_path):
    bench, kg_dir, _ = setup
    with pytest.raises(KemmError, match="unknown evaluation task 'lamma'; did you mean 'lama'"):
        AblationConfig(benchmark=str(bench), kg=str(kg_dir), tasks=["lamma"])
    with pytest.raises(KemmError, match="no fine-tuning is registered for obqa"):
        AblationConfig(benchmark=str(bench), kg=str(kg_dir), tasks=["obqa"], fusions=["none"])
    with pytest.raises(KemmError, match="distinct"):
        AblationConfig(benchmark=str(bench), kg=str(kg_dir), seeds=[1, 1])
    (tmp_path / "a.yaml").write_text("benchmark: x\nkg: y\nseed: [1]\n")
    with pytest.raises(
        InputError, match="a.yaml:3: unknown key 'seed' for AblationConfig; did you mean 'seeds'"
    ):
        AblationConfig.from_yaml(tmp_path / "a.yaml")
