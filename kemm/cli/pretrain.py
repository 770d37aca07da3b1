"""``kemm pretrain``: knowledge-augmented vision-language pre-training."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def pretrain(
    config: Path = typer.Option(
        ..., "--config", "-c", help="Pre-training YAML, e.g. configs/pretrain/small.yaml."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Override the config's engine.max_epochs."),
    device: str = typer.Option(None, "--device", help="Override engine.device: auto, cpu, cuda, cuda:N."),
    on_error: str = typer.Option(
        None, "--on-error", help="raise (stop at a bad record) or skip (count it, write RUN/skipped.tsv)."
    ),
) -> None:
    """Pre-train a vision-language model with knowledge objectives (ITC, ITM, MLM, masked objects,
    entity denoising, KG link prediction) on image-text pairs.

    Data parallel: `torchrun --nproc-per-node N -m kemm.cli pretrain ...` (gloo on CPU, nccl on CUDA).
    """
    from kemm.cli.progress import training_progress
    from kemm.pretraining.config import PretrainConfig
    from kemm.pretraining.run import pretrain as run_pretrain

    cfg = PretrainConfig.from_yaml(config)
    engine: dict[str, Any] = {
        k: v for k, v in {"max_epochs": epochs, "device": device}.items() if v is not None
    }
    if engine:
        cfg = cfg.replace(engine=dataclasses.replace(cfg.engine, **engine))  # validated like the file
    if on_error is not None:
        cfg = cfg.replace(data=dataclasses.replace(cfg.data, on_error=on_error))  # type: ignore[arg-type]
    with training_progress(err, interval=cfg.engine.log_every_seconds) as on_progress:
        result = run_pretrain(cfg, out_dir, resume=resume, progress=on_progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if result.skipped:
        err.print(f"skipped {result.skipped} bad records (see {out_dir / 'skipped.tsv'})")
    if result.metrics:
        table = Table(title="validation")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in sorted(result.metrics.items()):
            table.add_row(k, f"{v:.4f}")
        out.print(table)
    if result.data_wait_fraction is not None:
        out.print(f"data wait: {100 * result.data_wait_fraction:.1f}% of step time")
    out.print(f"wrote {out_dir}")
