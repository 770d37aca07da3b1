"""``kemm eval``: evaluation tasks, the fact-removed KG, reports and ablations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
out = Console()


def _show(result) -> None:
    """Print a TaskResult: headline metrics, counts, groups and relations."""
    t = Table(title=f"{result.task} ({result.setting})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in result.metrics.items():
        t.add_row(k, f"{v:.4f}")
    for k, v in result.counts.items():
        t.add_row(f"[dim]{k}[/dim]", str(v))
    out.print(t)
    for title, rows in (("groups", result.groups), ("per relation", result.per_relation)):
        if not rows:
            continue
        cols = sorted({c for r in rows.values() for c in r})
        t = Table(title=title)
        t.add_column("")
        for c in cols:
            t.add_column(c, justify="right")
        for name, r in sorted(rows.items()):
            t.add_row(
                name, *(f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols)
            )
        out.print(t)
    if result.predictions_path is not None:
        out.print(f"wrote {result.predictions_path.parent}")


@app.command()
def linkpred(
    run_dir: Path = typer.Argument(..., help="KGE run directory written by `kemm kge train`."),
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Directory for predictions.jsonl and metrics.json."
    ),
    split: str = typer.Option("test", "--split", help="KG split to rank."),
    kg_dir: Path = typer.Option(None, "--kg", help="KG to evaluate on (default: the one it was trained on)."),
    setting: str = typer.Option("fact-in-kg", "--setting", help="fact-in-kg or fact-removed (recorded)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Filtered link prediction (both sides, realistic ranks) with a predictions file."""
    from kemm.evaluation.tasks.linkpred import evaluate_linkpred

    result = evaluate_linkpred(run_dir, out_dir, split=split, kg=kg_dir, setting=setting)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        _show(result)


@app.command("remove-facts")
def remove_facts(
    kg_dir: Path = typer.Option(..., "--kg", help="KG directory to copy."),
    datasets: list[Path] = typer.Option(
        ..., "--dataset", "-d", help="Dataset file(s) whose facts to remove."
    ),
    dataset_format: str = typer.Option(
        ..., "--format", "-f", help="Dataset format: lama, commonsenseqa, okvqa, ..."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="The new KG directory."),
    no_inverses: bool = typer.Option(False, "--no-inverses", help="Do not remove the reversed edges."),
    allow_unresolved: bool = typer.Option(
        False, "--allow-unresolved", help="Count facts not in the KG instead of failing."
    ),
) -> None:
    """The fact-removed setting: copy --kg without every (subject, relation, answer) fact of --dataset."""
    from kemm.evaluation.datasets import load_examples
    from kemm.evaluation.facts import read_facts, remove_evaluated_facts

    facts = []
    for path in datasets:
        examples = load_examples(dataset_format, path, check_images="none")
        facts.extend(read_facts(examples, dataset_format, path))
    res = remove_evaluated_facts(
        kg_dir,
        facts,
        out_dir,
        inverses=None if no_inverses else "auto",
        on_unresolved="count" if allow_unresolved else "raise",
    )
    out.print(
        f"removed {res.removed} triples for {res.facts} facts ({res.facts_found} found in the KG, "
        f"{len(res.unresolved)} not resolved); inverse relations used: {len(res.inverses)}"
    )
    out.print(f"wrote {res.path}")


def _task_command(task: str, summary: str) -> None:
    def command(
        out_dir: Path = typer.Option(
            ..., "--out", "-o", help="Directory for predictions.jsonl and metrics.json."
        ),
        benchmark: Path = typer.Option(
            None, "--benchmark", "-b", help="A benchmark from `kemm data make-benchmark` (finds every file)."
        ),
        split: str = typer.Option("test", "--split", help="Benchmark split to evaluate."),
        dataset: Path = typer.Option(None, "--dataset", "-d", help="Dataset file in the task's real format."),
        dataset_format: str = typer.Option(
            None, "--format", "-f", help="Dataset format (default: the task's)."
        ),
        train: Path = typer.Option(
            None, "--train", help="Training split (baseline prior, VQA answer vocabulary)."
        ),
        images_dir: Path = typer.Option(None, "--images", help="Images directory (VQA)."),
        vocab: Path = typer.Option(None, "--vocab", help="LAMA common vocabulary, one word a line."),
        predictions: Path = typer.Option(None, "--predictions", "-p", help="Predictions file to score."),
        baseline: str = typer.Option(None, "--baseline", help="Score a baseline instead: train-prior."),
        ids_file: Path = typer.Option(None, "--ids", help="File of question ids: an in-house split."),
        setting: str = typer.Option("fact-in-kg", "--setting", help="fact-in-kg or fact-removed (recorded)."),
        links: str = typer.Option(
            "predicted", "--links", help="predicted or oracle object links (recorded)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        from kemm.errors import KemmError
        from kemm.evaluation.benchmark import DatasetSpec
        from kemm.evaluation.runner import benchmark_task, evaluate_task
        from kemm.evaluation.tasks import EVAL_TASKS

        common: dict[str, Any] = dict(
            predictions=predictions, baseline=baseline, ids_file=ids_file, setting=setting, links=links
        )
        if (benchmark is None) == (dataset is None):
            raise KemmError("give exactly one of --benchmark and --dataset")
        if benchmark is not None:
            result = benchmark_task(benchmark, task, split, out_dir, **common)
        else:
            fmt = dataset_format or EVAL_TASKS.get(task).formats[0]
            options = {"images_dir": images_dir} if images_dir is not None else {}
            if fmt in ("okvqa", "aokvqa", "vqav2") and images_dir is None:
                options["check_images"] = "none"
            result = evaluate_task(
                "aokvqa" if fmt == "aokvqa" else task,
                out_dir,
                DatasetSpec(fmt, dataset, options),
                train=DatasetSpec(fmt, train, options) if train is not None else None,
                vocabulary=vocab,
                **common,
            )
        if as_json:
            out.print_json(json.dumps(result.to_dict()))
        else:
            _show(result)

    command.__doc__ = summary
    app.command(task)(command)


_task_command("lama", "Factual cloze (LAMA format): P@1, P@10, MRR over single-token words and KG entities.")
_task_command("csqa", "Commonsense multiple choice, CommonsenseQA format: accuracy.")
_task_command("obqa", "Commonsense multiple choice, OpenBookQA format: accuracy.")
_task_command("okvqa", "Knowledge VQA, OK-VQA format: the official VQA soft accuracy.")


@app.command()
def ablate(
    config: Path = typer.Option(
        ..., "--config", "-c", help="Ablation YAML, e.g. configs/eval/benchmark.yaml."
    ),
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Report directory: report.json, report.md, plots/."
    ),
    seeds: list[int] = typer.Option(None, "--seed", help="Override the config's seeds (repeat the option)."),
) -> None:
    """Run the config's tasks with `fusion: none` and each fusion module, over seeds and both
    knowledge settings, and write the report."""
    import dataclasses

    from kemm.config import load_yaml
    from kemm.evaluation.ablation import AblationConfig, run_ablation

    cfg = AblationConfig.from_yaml(config)
    if seeds:
        cfg = dataclasses.replace(cfg, seeds=list(seeds))  # validated like the file
    raw = dict(load_yaml(config))
    report = run_ablation(cfg, out_dir, config_dict={"file": str(config), **raw, "seeds": cfg.seeds})
    out.print((report / "report.md").read_text(encoding="utf-8"))
    out.print(f"wrote {report}")
