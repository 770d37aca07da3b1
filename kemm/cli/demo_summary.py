"""The headline figures of each demo stage, read from what the stage wrote, and the demo's report.

Every function takes a stage's output and returns a flat ``{figure: value}`` mapping (JSON-ready);
:func:`write_summary` puts them, with the chance levels beside the QA figures, into
``REPORT/demo.json`` and ``REPORT/demo.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kemm.utils.io import atomic_write


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def kg(kg_dir: Path, bundled: Path | None = None) -> dict[str, Any]:
    """Entities, relations, triples and split sizes of a KG store (and the size of the bundled one)."""
    from kemm.kg.graph import KnowledgeGraph

    g = KnowledgeGraph.load(kg_dir)
    out: dict[str, Any] = {"entities": g.num_entities, "relations": g.num_relations, "triples": g.num_triples}
    out.update({f"{name} triples": len(idx) for name, idx in g.splits.items()})
    if bundled is not None:
        meta = _json(bundled / "meta.json")
        out.update(
            {
                f"bundled {k.removeprefix('num_')}": meta[k]
                for k in ("num_entities", "num_relations", "num_triples")
                if k in meta
            }
        )
    return out


def kge(run: Path) -> dict[str, Any]:
    """Filtered test MRR and Hits@k (both sides, realistic ranks) of a ``kemm kge train`` run."""
    m = _json(run / "metrics.json")
    both = m["test"]["both"]
    return {
        "model": m["model"],
        "epochs": m["training"]["epochs_run"],
        "test MRR": both["mrr"],
        "test Hits@1": both["hits_at_1"],
        "test Hits@10": both["hits_at_10"],
    }


def benchmark(bench: Path) -> dict[str, Any]:
    """Images, captions and questions per split of a benchmark, with its chance levels."""
    stats = _json(bench / "stats.json")
    out: dict[str, Any] = {}
    for split, s in stats["splits"].items():
        out[f"{split} images"] = s["images"]
        out[f"{split} captions"] = s["captions"]
        out[f"{split} questions"] = s["vqa_questions"] + s["mc_questions"] + s["cloze_probes"]
    return out


def grounding(path: Path) -> dict[str, Any]:
    """How many grounded questions (and answer choices) are linked to at least one KG entity."""
    n = q_linked = choices = c_linked = nodes = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            n += 1
            q_linked += bool(rec["question"]["concepts"])
            for c in rec["choices"]:
                choices += 1
                c_linked += bool(c["concepts"])
                nodes += c["subgraph"]["num_nodes"]
    return {
        "questions": n,
        "questions linked": q_linked,
        "choices linked": c_linked,
        "choices": choices,
        "mean subgraph nodes": round(nodes / max(choices, 1), 1),
    }


def pretrain(run: Path) -> dict[str, Any]:
    """The validation figures of a ``kemm pretrain`` run."""
    m = _json(run / "metrics.json")
    out: dict[str, Any] = {"epochs": m["epochs"], "steps": m["global_step"]}
    out.update({k.removeprefix("valid/"): v for k, v in sorted(m.get("metrics", {}).items())})
    return out


#: (task, metric) of the report's headline rows, with how to name them
HEADLINE = [
    ("lama", "p_at_1", "LAMA P@1 (words)"),
    ("lama", "entity_p_at_1", "LAMA P@1 (KG entities)"),
    ("lama-zero-shot", "p_at_1", "LAMA P@1 zero-shot (words)"),
    ("lama-zero-shot", "entity_p_at_1", "LAMA P@1 zero-shot (KG entities)"),
    ("csqa", "accuracy", "CommonsenseQA accuracy"),
    ("okvqa", "vqa_accuracy", "OK-VQA soft accuracy"),
    ("factverify", "accuracy", "fact verification (KGE)"),
    ("linkpred", "mrr", "link prediction MRR (KGE)"),
]


SETTING_NAMES = {"fact-in-kg": "fact in KG", "fact-removed": "fact removed"}

#: the tasks with seen-entity rows: their benchmark questions' test_seen (not the KGE's own groups)
SEEN_ROW_TASKS = ("lama", "csqa", "okvqa")


def _cells(doc: dict[str, Any], task: str, metric: str, setting: str, fusion: str, group: str | None) -> dict:
    """``{knowledge | none | kge: mean}`` of ``metric`` (of ``group``'s figures when given)."""
    cells: dict[str, Any] = {}
    for r in doc["summary"]:
        if r["task"] != task or r["setting"] != setting or r.get("links") == "oracle":
            continue
        m = (r["groups"].get(group, {}) if group else r["metrics"]).get(metric)
        if m is None:
            continue
        key = "kge" if r["fusion"] == "kge" else ("knowledge" if r["fusion"] == fusion else r["fusion"])
        cells[key] = m["mean"]
    return cells


def _seen_chance(doc: dict[str, Any], task: str) -> float | None:
    """The chance level of ``task`` on the benchmark's seen split (None without one)."""
    from kemm.errors import KemmError
    from kemm.evaluation.ablation import AblationConfig
    from kemm.evaluation.benchmark import Benchmark

    # the config as written: a missing key is the default
    default = AblationConfig.__dataclass_fields__["seen_split"].default
    seen, bench = doc["config"].get("seen_split", default), doc["config"].get("benchmark")
    try:
        return Benchmark(bench).chance(task, seen) if seen and bench else None
    except (KemmError, KeyError, OSError):
        return None


def ablation(report: Path, fusion: str) -> dict[str, Any]:
    """Per task and setting: the knowledge model, the ``fusion: none`` twin, chance and train prior;
    with the fact in the KG also the same models on questions about entities seen in training."""
    doc = _json(report / "report.json")
    rows: dict[str, Any] = {}
    for task, metric, name in HEADLINE:
        for setting in doc["config"].get("settings", []):
            cells = _cells(doc, task, metric, setting, fusion, None)
            if not cells:
                continue
            base = doc.get("baselines", {}).get(task, {})
            if base.get("metric") == metric:
                cells["chance"] = base.get("chance")
                cells["train prior"] = base.get("train_prior")
            rows[f"{name} ({SETTING_NAMES.get(setting, setting)})"] = cells
            seen = _cells(doc, task, metric, setting, fusion, "seen") if setting == "fact-in-kg" else {}
            if seen and task in SEEN_ROW_TASKS:
                if base.get("metric") == metric:
                    seen["chance"] = _seen_chance(doc, task)
                rows[f"{name} (seen entities, fact in KG)"] = seen
    return rows


def headline_columns(fusion: str) -> list[str]:
    return ["figure", f"`{fusion}`", "`none`", "chance", "train prior"]


def headline_rows(figures: dict[str, Any], fusion: str) -> list[list[Any]]:
    """The demo's one table: ``[figure, knowledge model, none twin, chance, train prior]`` rows
    (KGE figures, which have no twin, in the knowledge column)."""
    k, p = figures["kge"], figures[f"pretrain-{fusion}"]
    n, link = figures["pretrain-none"], figures["link"]
    rows: list[list[Any]] = [
        [f"KGE ({k['model']}) test MRR", k["test MRR"], None, None, None],
        [f"KGE ({k['model']}) test Hits@10", k["test Hits@10"], None, None, None],
        ["CSQA test questions linked", f"{link['questions linked']}/{link['questions']}", None, None, None],
        ["pre-training t2i R@1 (val)", p.get("t2i_r1"), n.get("t2i_r1"), p.get("t2i_chance"), None],
        ["pre-training dEA, mention hidden", p.get("dea_acc_hidden"), n.get("dea_acc_hidden"), None, None],
    ]
    for name, cells in figures["evaluate"].items():
        first = cells.get("kge", cells.get("knowledge"))
        rows.append([name, first, cells.get("none"), cells.get("chance"), cells.get("train prior")])
    return rows


def write_summary(report: Path, result: dict[str, Any], fusion: str) -> tuple[Path, Path]:
    """``demo.json`` (every stage's figures and time) and ``demo.md`` (one table per stage)."""
    report.mkdir(parents=True, exist_ok=True)
    with atomic_write(report / "demo.json") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    ran = sum(result["seconds"].values())
    lines = [
        "# kemm demo",
        "",
        f"The stages took {ran / 60:.1f} min when they ran; this run took "
        f"{result.get('total_seconds', 0) / 60:.1f} min"
        + (f" (reused: {', '.join(result['reused'])})." if result.get("reused") else "."),
        "",
    ]
    cols = headline_columns(fusion)
    lines += ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    lines += [
        "| " + " | ".join(_fmt(v) for v in row) + " |" for row in headline_rows(result["figures"], fusion)
    ]
    lines += ["", "Each stage's figures:", ""]
    for stage, figs in result["figures"].items():
        lines += [f"## {stage} ({result['seconds'][stage]:.0f} s)", ""]
        if stage == "evaluate":
            cols = ["knowledge", "none", "kge", "chance", "train prior"]
            lines += [
                f"| figure | `{fusion}` | `none` | KGE | chance | train prior |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for name, cells in figs.items():
                lines.append(f"| {name} | " + " | ".join(_fmt(cells.get(c)) for c in cols) + " |")
        else:
            lines += ["| figure | value |", "|---|---:|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in figs.items()]
        lines.append("")
    lines.append(
        "Every figure of the evaluation, with its standard deviation and the settings, is in `report.md`."
    )
    with atomic_write(report / "demo.md") as f:
        f.write("\n".join(lines) + "\n")
    return report / "demo.json", report / "demo.md"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
