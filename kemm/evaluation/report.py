"""Ablation reports: every run's figures, aggregated over seeds, as JSON, Markdown and PNG plots.

:func:`write_report` takes one :class:`RunRecord` per (task, fusion module, seed, knowledge
setting, links) run and writes into the report directory:

* ``report.json`` -- every run's figures, the mean and standard deviation over seeds of each, the
  config, the git commit, the checksums of the data files, the seeds and the baselines;
* ``report.md`` -- per task a table of mean ± std per fusion module, fact-in-KG and fact-removed
  side by side (plus seen and held-out entities), with the chance level and the train-prior
  baseline as rows of the same table; per-relation figures; runs with oracle links (ground-truth
  object labels) in a table of their own, never as the headline;
* ``plots/{task}_fusion.png``, ``_seen_heldout.png``, ``_relations.png``, ``_settings.png``.

The standard deviation is the sample standard deviation over seeds (``ddof=1``); with one seed
it is 0 and the table says ``n=1``.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kemm.errors import KemmError
from kemm.evaluation.plots import Bar, bar_chart
from kemm.evaluation.tasks.base import SETTINGS, TaskResult
from kemm.utils.io import atomic_write, sha256_file

logger = logging.getLogger(__name__)

LINKS = ("predicted", "oracle")
#: metrics shown as they are rather than as percentages
RAW_METRICS = ("mean_rank",)


@dataclass
class RunRecord:
    """One run of one task.

    Attributes:
        task: the task name.
        fusion: the fusion module (``"none"`` for the baseline without knowledge fusion).
        seed: the fine-tuning seed.
        setting: ``"fact-in-kg"`` or ``"fact-removed"``.
        links: ``"predicted"`` (objects linked by the model's region classifier or a detector) or
            ``"oracle"`` (ground-truth object labels).
        metrics: metric -> value; ``groups``: ``"seen"``/``"heldout"`` -> metric -> value;
            ``per_relation``: relation -> metric -> value.
        counts: the task's stated counts (examples, out-of-vocabulary gold answers, ...).
        info: what the run used (checkpoint, KG, dataset) and which runs it shares them with.
    """

    task: str
    fusion: str
    seed: int
    metrics: dict[str, float]
    setting: str = "fact-in-kg"
    links: str = "predicted"
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    per_relation: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise KemmError(f"setting must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        if self.links not in LINKS:
            raise KemmError(f"links must be one of {', '.join(LINKS)}, got {self.links!r}")

    @classmethod
    def from_result(cls, result: TaskResult, fusion: str, seed: int, links: str = "predicted") -> RunRecord:
        return cls(
            task=result.task,
            fusion=fusion,
            seed=seed,
            metrics=dict(result.metrics),
            setting=result.setting,
            links=links,
            groups={k: dict(v) for k, v in result.groups.items()},
            per_relation={k: dict(v) for k, v in result.per_relation.items()},
            counts=dict(result.counts),
            info=dict(
                result.info, predictions=str(result.predictions_path) if result.predictions_path else None
            ),
        )


@dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value) of ``n`` values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> MeanStd:
        if not values:
            raise KemmError("mean of no values")
        n = len(values)
        mean = math.fsum(values) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        return cls(mean, std, n)


@dataclass(frozen=True)
class Baseline:
    """A task's reference levels on the evaluated split: ``chance`` (uniform guess) and
    ``train_prior`` (the answer prior learnt from the training split; None when not defined)."""

    chance: float
    train_prior: float | None = None
    metric: str = "accuracy"
    note: str = ""


# --------------------------------------------------------------------------------------------------
# aggregation
# --------------------------------------------------------------------------------------------------


def aggregate(records: Sequence[RunRecord], metric: str, part: str = "metrics", key: str | None = None):
    """``{(task, links, setting, fusion): MeanStd}`` of ``metric`` over seeds.

    ``part``: ``"metrics"``, ``"groups"`` or ``"per_relation"`` (then ``key`` names the group or
    relation). Runs without the figure are left out of its mean.
    """
    values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for r in records:
        source = r.metrics if part == "metrics" else getattr(r, part).get(key or "", {})
        if metric in source:
            values[(r.task, r.links, r.setting, r.fusion)].append(float(source[metric]))
    return {k: MeanStd.of(v) for k, v in values.items()}


def _summary(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per (task, links, setting, fusion): mean/std/n of every metric, group and relation figure."""
    rows: dict[tuple, dict[str, Any]] = {}
    by_key: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_key[(r.task, r.links, r.setting, r.fusion)].append(r)
    for key, runs in sorted(by_key.items()):
        row: dict[str, Any] = dict(zip(("task", "links", "setting", "fusion"), key))
        row["seeds"] = sorted(r.seed for r in runs)
        for part in ("metrics", "groups", "per_relation"):
            out: dict[str, Any] = {}
            if part == "metrics":
                names = sorted({m for r in runs for m in r.metrics})
                out = {m: asdict(MeanStd.of([r.metrics[m] for r in runs if m in r.metrics])) for m in names}
            else:
                for g in sorted({g for r in runs for g in getattr(r, part)}):
                    figs = [getattr(r, part)[g] for r in runs if g in getattr(r, part)]
                    names = sorted({m for f in figs for m in f})
                    out[g] = {m: asdict(MeanStd.of([f[m] for f in figs if m in f])) for m in names}
            row[part] = out
        rows[key] = row
    return list(rows.values())


# --------------------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------------------


def git_commit(cwd: str | Path | None = None) -> dict[str, Any] | None:
    """``{"commit": HEAD, "dirty": bool}`` of the git checkout at ``cwd`` (kemm's own by default), or None."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())}


def data_checksums(paths: Sequence[str | Path]) -> dict[str, str]:
    """sha256 of each file; a directory (a KG, a benchmark) is named by its ``meta.json`` or
    ``stats.json``, which list or determine every file in it.

    Raises:
        KemmError: a path does not exist (a report never names data it did not check).
    """
    out = {}
    for p in map(Path, paths):
        if p.is_dir():
            for name in ("meta.json", "stats.json"):
                if (p / name).is_file():
                    out[str(p)] = f"{name}:{sha256_file(p / name)}"
                    break
            else:
                raise KemmError(f"{p}: a data directory needs a meta.json or stats.json to be checksummed")
        elif p.is_file():
            out[str(p)] = sha256_file(p)
        else:
            raise KemmError(f"{p}: no such data file")
    return out


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def _fmt(m: MeanStd | None, metric: str) -> str:
    if m is None:
        return "–"
    scale = 1.0 if metric in RAW_METRICS else 100.0
    text = f"{m.mean * scale:.1f} ± {m.std * scale:.1f}"
    return text + (" (n=1)" if m.n == 1 else "")


def _fusions(records: Sequence[RunRecord], task: str) -> list[str]:
    """Fusion modules of ``task``, ``none`` first, then in order of appearance."""
    seen = list(dict.fromkeys(r.fusion for r in records if r.task == task))
    return sorted(seen, key=lambda f: (f != "none", seen.index(f)))


def _headline(records: Sequence[RunRecord], task: str, baselines: dict[str, Baseline]) -> str:
    if task in baselines:
        return baselines[task].metric
    for r in records:
        if r.task == task and r.metrics:
            return next(iter(r.metrics))
    raise KemmError(f"no metrics for task {task!r}")


def _task_table(records, task: str, links: str, metric: str, baseline: Baseline | None) -> list[str]:
    main = aggregate(records, metric)
    seen = aggregate(records, metric, "groups", "seen")
    held = aggregate(records, metric, "groups", "heldout")
    cols = ["fact in KG", "fact removed", "seen entities (fact in KG)", "held-out entities (fact in KG)"]
    lines = ["| model | " + " | ".join(cols) + " | seeds |", "|---|" + "---:|" * (len(cols) + 1)]
    for fusion in _fusions([r for r in records if r.links == links], task):
        k_in, k_out = (task, links, "fact-in-kg", fusion), (task, links, "fact-removed", fusion)
        seeds = sorted({r.seed for r in records if (r.task, r.links, r.fusion) == (task, links, fusion)})
        cells = [_fmt(main.get(k_in), metric), _fmt(main.get(k_out), metric)]
        cells += [_fmt(seen.get(k_in), metric), _fmt(held.get(k_in), metric)]
        lines.append(f"| fusion: {fusion} | " + " | ".join(cells) + f" | {', '.join(map(str, seeds))} |")
    if baseline is not None:
        for name, value in (
            ("chance (uniform guess)", baseline.chance),
            ("train prior", baseline.train_prior),
        ):
            cell = "–" if value is None else f"{value * 100:.1f}"
            lines.append(f"| *{name}* | {cell} | {cell} | | | |")
    return lines


def _relation_table(records, task: str, links: str, metric: str) -> list[str]:
    fusions = _fusions([r for r in records if r.links == links], task)
    relations = sorted(
        {rel for r in records if r.task == task and r.links == links for rel in r.per_relation}
    )
    if not relations:
        return []
    lines = ["| relation | " + " | ".join(fusions) + " |", "|---|" + "---:|" * len(fusions)]
    for rel in relations:
        agg = aggregate(records, metric, "per_relation", rel)
        cells = [_fmt(agg.get((task, links, "fact-in-kg", f)), metric) for f in fusions]
        lines.append(f"| {rel} | " + " | ".join(cells) + " |")
    return lines


def _markdown(records, baselines: dict[str, Baseline], meta: dict[str, Any]) -> str:
    out = ["# kemm evaluation report", ""]
    commit = meta.get("git") or {}
    out.append(
        f"Commit `{commit.get('commit', 'unknown')}`{' (uncommitted changes)' if commit.get('dirty') else ''}; "
        f"seeds {', '.join(map(str, meta['seeds']))}; figures in % (mean ± sample std over seeds)."
    )
    out.append("")
    for task in dict.fromkeys([*(r.task for r in records), *baselines]):
        metric = _headline(records, task, baselines)
        base = baselines.get(task)
        out += [f"## {task}: {metric}", ""]
        if base is not None and base.note:
            out += [base.note, ""]
        out += _task_table(records, task, "predicted", metric, base) + [""]
        rel = _relation_table(records, task, "predicted", metric)
        if rel:
            out += [f"Per relation ({metric}, fact in KG):", ""] + rel + [""]
        if any(r.task == task and r.links == "oracle" for r in records):
            out += [
                f"### {task} with oracle links (ground-truth object labels; an upper bound, not the headline)",
                "",
            ]
            out += _task_table(records, task, "oracle", metric, base) + [""]
        counts = {k: v for r in records if r.task == task for k, v in r.counts.items()}
        if counts:
            out += ["Counts (last run): " + ", ".join(f"{k} {v}" for k, v in counts.items()), ""]
    shared = meta.get("shared")
    if shared:
        out += ["## Shared checkpoints", ""] + [f"* {line}" for line in shared] + [""]
    out += ["## Data", ""] + [f"* `{p}`: `{c}`" for p, c in meta["data_checksums"].items()] + [""]
    return "\n".join(out)


def _plots(records, baselines: dict[str, Baseline], plots: Path) -> list[Path]:
    written = []
    pred = [r for r in records if r.links == "predicted"]
    for task in dict.fromkeys(r.task for r in pred):
        metric = _headline(pred, task, baselines)
        base = baselines.get(task)
        lines = {}
        if base is not None:
            lines["chance"] = base.chance
            if base.train_prior is not None:
                lines["train prior"] = base.train_prior
        fusions = _fusions(pred, task)
        main = aggregate(pred, metric)

        def bars(agg, setting: str, fusions=fusions, task=task) -> list[Bar | None]:
            return [
                Bar(m.mean, m.std) if (m := agg.get((task, "predicted", setting, f))) is not None else None
                for f in fusions
            ]

        written.append(
            bar_chart(
                plots / f"{task}_fusion.png",
                f"{task}: {metric} by fusion module (fact in KG)",
                fusions,
                {"fact in KG": bars(main, "fact-in-kg")},
                xlabel=metric,
                lines=lines,
            )
        )
        written.append(
            bar_chart(
                plots / f"{task}_settings.png",
                f"{task}: fact in KG vs fact removed",
                fusions,
                {"fact in KG": bars(main, "fact-in-kg"), "fact removed": bars(main, "fact-removed")},
                xlabel=metric,
                lines=lines,
            )
        )
        seen, held = (aggregate(pred, metric, "groups", g) for g in ("seen", "heldout"))
        written.append(
            bar_chart(
                plots / f"{task}_seen_heldout.png",
                f"{task}: seen vs held-out entities (fact in KG)",
                fusions,
                {"seen": bars(seen, "fact-in-kg"), "held-out": bars(held, "fact-in-kg")},
                xlabel=metric,
                lines=lines,
            )
        )
        relations = sorted({rel for r in pred if r.task == task for rel in r.per_relation})
        if relations:
            series = {}
            for f in fusions:
                col = []
                for rel in relations:
                    m = aggregate(pred, metric, "per_relation", rel).get((task, "predicted", "fact-in-kg", f))
                    col.append(Bar(m.mean, m.std) if m is not None else None)
                series[f] = col
            written.append(
                bar_chart(
                    plots / f"{task}_relations.png",
                    f"{task}: {metric} per relation type (fact in KG)",
                    relations,
                    series,
                    xlabel=metric,
                )
            )
    return written


def write_report(
    out_dir: str | Path,
    records: Sequence[RunRecord],
    config: dict[str, Any],
    baselines: dict[str, Baseline] | None = None,
    data: Sequence[str | Path] = (),
    shared: Sequence[str] = (),
) -> Path:
    """Write ``report.json``, ``report.md`` and ``plots/`` into ``out_dir``.

    Args:
        records: every run (at least one run or one baseline).
        config: the config the ablation ran with (stored as it is).
        baselines: task -> :class:`Baseline` (chance and train prior rows of the task's table).
        data: data files and directories used (checksummed, see :func:`data_checksums`).
        shared: sentences saying which runs share which pre-trained checkpoint.

    Raises:
        KemmError: no records; a data path that does not exist.
    """
    if not records and not baselines:
        raise KemmError("no runs to report")
    out_dir = Path(out_dir)
    baselines = dict(baselines or {})
    meta: dict[str, Any] = {
        "config": config,
        "git": git_commit(),
        "data_checksums": data_checksums(data),
        "seeds": sorted({r.seed for r in records}),  # empty for a baselines-only report
        "shared": list(shared),
    }
    doc: dict[str, Any] = dict(meta)
    doc["baselines"] = {k: asdict(v) for k, v in baselines.items()}
    doc["summary"] = _summary(records)
    doc["runs"] = [asdict(r) for r in records]
    with atomic_write(out_dir / "report.json") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with atomic_write(out_dir / "report.md") as f:
        f.write(_markdown(records, baselines, meta))
    plots = _plots(records, baselines, out_dir / "plots")
    logger.info("report of %d runs: %s (%d plots)", len(records), out_dir, len(plots))
    return out_dir
