"""``kemm kge``: train, evaluate and query knowledge-graph embeddings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _metrics_table(title: str, res) -> Table:
    t = Table(title=title)
    for col in ("side", "MRR", "MR", "Hits@1", "Hits@3", "Hits@10", "n"):
        t.add_column(col, justify="right" if col != "side" else "left")
    for name, m in (("both", res.both), ("head", res.head), ("tail", res.tail)):
        t.add_row(
            name,
            f"{m.mrr:.4f}",
            f"{m.mean_rank:.2f}",
            f"{m.hits_at_1:.4f}",
            f"{m.hits_at_3:.4f}",
            f"{m.hits_at_10:.4f}",
            str(m.count),
        )
    return t


@app.command()
def train(
    kg_dir: Path = typer.Option(..., "--kg", help="KG directory with a train split (see `kemm kg split`)."),
    config: Path = typer.Option(..., "--config", "-c", help="Training YAML, e.g. configs/kge/transe.yaml."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Override the config's number of epochs."),
    device: str = typer.Option(
        None, "--device", help="Override the config's device: auto (CUDA when present), cpu, cuda, cuda:N."
    ),
) -> None:
    """Train the model of --config on the train split of --kg; evaluate it on test.

    Data parallel: `torchrun --nproc-per-node N -m kemm.cli kge train ...` (gloo on CPU, nccl on CUDA).
    """
    import dataclasses

    from kemm.cli.progress import training_progress
    from kemm.embeddings.config import TrainConfig
    from kemm.embeddings.run import train_kge

    cfg = TrainConfig.from_yaml(config)
    overrides: dict[str, Any] = {
        k: v for k, v in {"epochs": epochs, "device": device}.items() if v is not None
    }
    cfg = dataclasses.replace(cfg, **overrides)  # validated like the file
    with training_progress(err, unit="triples") as on_progress:
        result = train_kge(kg_dir, out_dir, cfg, resume=resume, callback=on_progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if result.test is not None:
        out.print(_metrics_table(f"test ({cfg.model}, filtered, realistic ranks)", result.test))
    out.print(f"wrote {out_dir}")


@app.command("eval")
def eval_(
    run_dir: Path = typer.Argument(..., help="Run directory written by `kemm kge train`."),
    split: str = typer.Option("test", "--split", help="Split to rank."),
    kg_dir: Path = typer.Option(None, "--kg", help="KG to evaluate on (default: the one it was trained on)."),
    per_relation: bool = typer.Option(False, "--per-relation", help="Also list metrics per relation."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Filtered link-prediction evaluation (both sides, realistic ranks)."""
    from kemm.embeddings.run import RunEvaluation, evaluate_run

    res = evaluate_run(run_dir, split, kg_dir)
    if isinstance(res, RunEvaluation) and res.checkpoint is not None:
        err.print(
            f"run {run_dir} is not finished: evaluating its last checkpoint "
            f"(epoch {res.checkpoint.epoch} of {res.checkpoint.max_epochs})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if as_json:
        out.print_json(json.dumps(res.as_dict()))
        return
    out.print(_metrics_table(f"{split} (filtered, realistic ranks, {res.seconds:.2f}s)", res))
    if per_relation:
        t = Table(title="per relation (both sides)")
        for col in ("relation", "MRR", "Hits@10", "n"):
            t.add_column(col)
        for name, m in sorted(res.per_relation.items(), key=lambda kv: -kv[1].count):
            t.add_row(name, f"{m.mrr:.4f}", f"{m.hits_at_10:.4f}", str(m.count))
        out.print(t)


@app.command()
def neighbors(
    run_dir: Path = typer.Argument(..., help="Run directory written by `kemm kge train`."),
    entity: str = typer.Argument(..., help="Entity key, label, alias or id."),
    k: int = typer.Option(10, "-k", help="How many neighbours."),
    kg_dir: Path = typer.Option(None, "--kg", help="KG the run was trained on (default: the recorded one)."),
) -> None:
    """Nearest entities in embedding space (cosine, faiss); the index is cached as RUN/entities.faiss."""
    from kemm.embeddings.index import EntityIndex
    from kemm.embeddings.run import load_run

    model, kg = load_run(run_dir, kg_dir)
    eid = kg.entity_id(entity)
    path = run_dir / "entities.faiss"
    weights = run_dir / "model" / "model.safetensors"
    if path.exists() and weights.exists() and path.stat().st_mtime >= weights.stat().st_mtime:
        index = EntityIndex.load(path)
    else:
        index = EntityIndex(model.entity_embeddings().cpu().numpy())
        index.save(path)
    t = Table(title=f"nearest to {kg.entities.keys[eid]} ({kg.entity_label(eid)})")
    for col in ("rank", "key", "label", "cosine"):
        t.add_column(col)
    for i, n in enumerate(index.search(eid, k), start=1):
        t.add_row(str(i), kg.entities.keys[n.entity], kg.entity_label(n.entity), f"{n.score:.4f}")
    out.print(t)
