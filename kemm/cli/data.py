"""``kemm data``: build the offline multimodal knowledge benchmark and look at its examples."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command("make-benchmark")
def make_benchmark(
    kg: list[Path] = typer.Option(
        None,
        "--kg",
        help="KG source file(s) in the commonsense schema (emoji attributes, ConceptNet relations); "
        "default: the bundled commonsense KG, knowledge_graphs/commonsense/commonsense.ttl.",
    ),
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Benchmark directory to write (replaced atomically)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives byte-identical files."),
    scale: float = typer.Option(1.0, "--scale", help="Multiplies the number of images (and VQA questions)."),
    image_size: int = typer.Option(224, "--image-size", help="Width and height of the images, pixels."),
    image_format: str = typer.Option("jpg", "--image-format", help="jpg (as COCO) or png (lossless)."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an interrupted build from its checkpoint (same files as a fresh one).",
    ),
    workers: int = typer.Option(
        1, "--workers", "-j", help="Processes rendering images (same files for any number)."
    ),
    sprites: Path = typer.Option(
        None, "--sprites", help="Folder of emoji sprites (default: the sprites shipped with kemm)."
    ),
) -> None:
    """Generate images, COCO annotations and captions, OK-VQA, CommonsenseQA and LAMA files from a KG."""
    from kemm.data.benchmark import BenchmarkConfig, SceneConfig
    from kemm.data.benchmark import make_benchmark as build
    from kemm.kg.bundled import bundled_source
    from kemm.kg.readers import ingest
    from kemm.utils.io import sha256_file

    kg = kg or [bundled_source("commonsense")]

    config = BenchmarkConfig(
        seed=seed, scale=scale, image_format=image_format, scene=SceneConfig(image_size=image_size)
    )
    graph, _ = ingest(kg)
    sources = [{"name": p.name, "sha256": sha256_file(p)} for p in kg if p.is_file()]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        summary = build(
            graph,
            out_dir,
            config,
            sprite_dir=sprites,
            kg_sources=sources,
            progress=progress,
            workers=workers,
            resume=resume,
        )
    table = Table(title=f"{summary.path} ({summary.seconds:.1f} s)")
    for col in ("split", "images", "objects", "captions", "VQA", "multiple choice", "cloze"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split, s in summary.stats["splits"].items():
        table.add_row(
            split,
            *(
                str(s[k])
                for k in ("images", "objects", "captions", "vqa_questions", "mc_questions", "cloze_probes")
            ),
        )
    out.print(table)
    ch = summary.stats["chance"]
    vqa = ch["vqa"]["test"]["overall"]
    out.print(
        f"chance (test): VQA train prior {vqa['train_prior']:.1%} (oracle best constant on test "
        f"{vqa['oracle_best_constant']:.1%}), multiple choice {ch['mc']['accuracy']:.0%}, "
        f"cloze {ch['cloze']['test']['accuracy']:.2%}"
    )


@app.command()
def show(
    bench_dir: Path = typer.Argument(..., help="A directory written by `kemm data make-benchmark`."),
    split: str = typer.Option("val", "--split", help="train, val, test or test_seen."),
    index: int = typer.Option(0, "--index", help="Which question (task vqa) or image (task image)."),
    out_path: Path = typer.Option(Path("example.png"), "--out", "-o", help="PNG to write."),
    task: str = typer.Option(
        "vqa", "--task", help="vqa: a question with its image and answers; image: captions."
    ),
) -> None:
    """Render one example (image with boxes and labels, the question and its answers) to a PNG."""
    from kemm.data.benchmark import render_example

    path = render_example(bench_dir, split=split, index=index, out=out_path, task=task)
    out.print(f"wrote {path}")
