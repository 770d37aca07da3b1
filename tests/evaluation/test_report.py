"""Reports from synthetic runs: means and standard deviations checked by hand."""

from __future__ import annotations

import hashlib
import json

import pytest
from PIL import Image

from kemm.errors import KemmError
from kemm.evaluation.report import Baseline, MeanStd, RunRecord, aggregate, write_report
from kemm.evaluation.tasks import TaskResult


def _runs():
    runs = []
    # csqa, fusion none: 0.40 / 0.44 / 0.48 -> mean 0.44, sample std 0.04
    for seed, acc in zip((0, 1, 2), (0.40, 0.44, 0.48)):
        runs.append(
            RunRecord(
                "csqa",
                "none",
                seed,
                {"accuracy": acc},
                groups={"seen": {"accuracy": acc + 0.1}, "heldout": {"accuracy": acc - 0.1}},
                per_relation={"IsA": {"accuracy": 0.5}, "UsedFor": {"accuracy": acc}},
            )
        )
    # csqa, fusion gnn: 0.6 / 0.7 -> mean 0.65, std sqrt(0.005) = 0.0707
    for seed, acc in zip((0, 1), (0.6, 0.7)):
        runs.append(
            RunRecord("csqa", "gnn", seed, {"accuracy": acc}, per_relation={"IsA": {"accuracy": 0.9}})
        )
    runs.append(RunRecord("csqa", "gnn", 0, {"accuracy": 0.3}, setting="fact-removed"))
    runs.append(RunRecord("csqa", "gnn", 0, {"accuracy": 0.95}, links="oracle"))
    return runs


def test_mean_and_sample_std():
    m = MeanStd.of([0.40, 0.44, 0.48])
    assert m.mean == pytest.approx(0.44) and m.std == pytest.approx(0.04) and m.n == 3
    assert MeanStd.of([0.7]) == MeanStd(0.7, 0.0, 1)
    agg = aggregate(_runs(), "accuracy")
    assert agg[("csqa", "predicted", "fact-in-kg", "gnn")].std == pytest.approx(0.0707107, abs=1e-6)
    assert agg[("csqa", "predicted", "fact-removed", "gnn")] == MeanStd(0.3, 0.0, 1)
    assert aggregate(_runs(), "accuracy", "groups", "heldout")[
        ("csqa", "predicted", "fact-in-kg", "none")
    ].mean == (pytest.approx(0.34))


def test_report_files(tmp_path):
    (tmp_path / "data.jsonl").write_text("{}\n")
    base = {"csqa": Baseline(chance=0.2, train_prior=0.25)}
    write_report(
        tmp_path / "rep",
        _runs(),
        {"tasks": ["csqa"]},
        base,
        data=[tmp_path / "data.jsonl"],
        shared=["all csqa runs share checkpoint X"],
    )
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["config"] == {"tasks": ["csqa"]} and doc["seeds"] == [0, 1, 2]
    assert list(doc["data_checksums"].values()) == [hashlib.sha256(b"{}\n").hexdigest()]
    assert len(doc["runs"]) == 7
    row = next(r for r in doc["summary"] if r["fusion"] == "none")
    assert row["metrics"]["accuracy"]["mean"] == pytest.approx(0.44) and row["seeds"] == [0, 1, 2]
    assert row["per_relation"]["UsedFor"]["accuracy"]["std"] == pytest.approx(0.04)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| fusion: none | 44.0 ± 4.0 | – | 54.0 ± 4.0 | 34.0 ± 4.0 | 0, 1, 2 |" in md
    assert "| fusion: gnn | 65.0 ± 7.1 | 30.0 ± 0.0 (n=1) |" in md
    assert "| *chance (uniform guess)* | 20.0 | 20.0 |" in md and "| *train prior* | 25.0 | 25.0 |" in md
    # the oracle run is reported apart, below the headline table
    head, oracle = md.split("oracle links", 1)
    assert "95.0" not in head and "95.0 ± 0.0 (n=1)" in oracle
    assert "all csqa runs share checkpoint X" in md
    for name in ("fusion", "settings", "seen_heldout", "relations"):
        with Image.open(tmp_path / "rep" / "plots" / f"csqa_{name}.png") as img:
            assert img.format == "PNG" and img.width > 100


def test_from_task_result():
    res = TaskResult("okvqa", {"vqa_accuracy": 0.3}, counts={"oov_gold": 2}, setting="fact-removed")
    rec = RunRecord.from_result(res, fusion="ernie", seed=4, links="oracle")
    assert (rec.task, rec.fusion, rec.seed, rec.setting, rec.links, rec.counts) == (
        "okvqa",
        "ernie",
        4,
        "fact-removed",
        "oracle",
        {"oov_gold": 2},
    )


def test_bad_input(tmp_path):
    with pytest.raises(KemmError, match="no runs"):
        write_report(tmp_path, [], {})
    with pytest.raises(KemmError, match="no such data file"):
        write_report(tmp_path, _runs(), {}, data=[tmp_path / "missing.json"])
    with pytest.raises(KemmError, match="links"):
        RunRecord("csqa", "none", 0, {"accuracy": 0.1}, links="gold")
