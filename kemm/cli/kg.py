"""``kemm kg``: ingest, stats, split, export, neighbors."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from kemm.errors import KemmError

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)


class OnErrorChoice(str, Enum):
    raise_ = "raise"
    skip = "skip"


class ExportFormat(str, Enum):
    ntriples = "ntriples"
    networkx = "networkx"
    pyg = "pyg"


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


@app.command()
def ingest(
    sources: list[Path] = typer.Argument(
        ..., help="Files or directories to read; several merge into one KG."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="KG directory to write (replaced atomically)."),
    format: str = typer.Option(
        "auto",
        "--format",
        "-f",
        help="auto, ntriples, nquads, turtle, rdfxml, jsonld, n3, trig, conceptnet, tsv, wordnet.",
    ),
    lang: str = typer.Option(
        "en",
        "--lang",
        help="Preferred label language; ConceptNet keeps only this language ('all' keeps every language).",
    ),
    on_error: OnErrorChoice = typer.Option(
        OnErrorChoice.raise_,
        "--on-error",
        help="raise: stop at the first bad record; skip: go on, count them and write them to skipped.tsv.",
    ),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Keep repeated (h, r, t) triples."),
    workers: int = typer.Option(
        0,
        "--workers",
        "-j",
        help="N-Triples/N-Quads: parsing processes (0: one per core, at most 4, for files over 16 MiB).",
    ),
) -> None:
    """Read SOURCES into one knowledge graph stored in --out."""
    from kemm.kg.readers import ingest as ingest_sources
    from kemm.kg.stats import compute_stats

    total = sum(_size(s) for s in sources)
    with _progress() as bar:
        task = bar.add_task("ingest", total=total or None)
        done: dict[Path, int] = {}

        def on_progress(src: Path, n: int) -> None:
            done[src] = n
            bar.update(task, completed=sum(done.values()), description=f"ingest {src.name}")

        kg, skipped = ingest_sources(
            sources,
            format=format,
            lang=None if lang == "all" else lang,
            on_error=on_error.value,
            progress=on_progress,
            dedup=not no_dedup,
            workers=workers,
        )
        bar.update(task, completed=total)
    if kg.num_triples == 0:
        raise KemmError(f"no triples were read from {', '.join(map(str, sources))}; nothing written")
    kg.save(out_dir, skipped=skipped)
    _print_stats(compute_stats(kg))
    out.print(f"wrote {out_dir}")
    if skipped:
        err.print(
            f"[yellow]skipped {len(skipped)} bad records; they are listed in {out_dir / 'skipped.tsv'}[/]"
        )


def _size(p: Path) -> int:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.iterdir() if f.is_file())
    return os.path.getsize(p) if p.exists() else 0


def _load(kg_dir: Path):
    from kemm.kg.graph import KnowledgeGraph

    return KnowledgeGraph.load(kg_dir)


@app.command()
def stats(
    kg_dir: Path = typer.Argument(..., help="KG directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
    top: int = typer.Option(10, help="How many relations and entities to list."),
    verify: bool = typer.Option(False, help="Check every file against the checksums in meta.json."),
) -> None:
    """Counts, relation histogram, degree distribution and connected components."""
    from kemm.kg.graph import KnowledgeGraph
    from kemm.kg.stats import compute_stats

    kg = KnowledgeGraph.load(kg_dir, verify=verify)
    s = compute_stats(kg, top=top)
    if as_json:
        out.print_json(json.dumps(s.as_dict()))
    else:
        _print_stats(s, top=top)


def _print_stats(s, top: int = 10) -> None:
    t = Table(title="knowledge graph", show_header=False)
    for k, v in [
        ("entities", s.num_entities),
        ("relations", s.num_relations),
        ("triples", s.num_triples),
        ("attributes (literals)", s.num_attributes),
        ("aliases", s.num_aliases),
        ("splits", ", ".join(f"{k}={v}" for k, v in s.splits.items()) or "none"),
        ("isolated entities", s.isolated_entities),
        ("connected components", s.num_components),
        ("largest component", s.largest_component),
        ("degree min/median/mean/p99/max", " / ".join(f"{v:g}" for v in s.degree.values())),
    ]:
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    out.print(t)
    rt = Table(title=f"relations (top {top} of {s.num_relations})")
    rt.add_column("relation")
    rt.add_column("triples", justify="right")
    for name, n in s.relation_counts[:top]:
        rt.add_row(name, f"{n:,}")
    out.print(rt)
    dt = Table(title="degree histogram")
    dt.add_column("degree")
    dt.add_column("entities", justify="right")
    for b, n in s.degree_histogram:
        dt.add_row(b, f"{n:,}")
    out.print(dt)


@app.command()
def split(
    kg_dir: Path = typer.Argument(..., help="KG directory; splits are written into it."),
    ratios: tuple[float, float, float] = typer.Option((0.8, 0.1, 0.1), help="train valid test fractions."),
    seed: int = typer.Option(0, help="Seed of the shuffle."),
    drop_inverse_leakage: bool = typer.Option(
        False,
        help="Move to train every valid/test triple whose "
        "entities are directly linked in train (as WN18RR/FB15k-237).",
    ),
) -> None:
    """Split the triples into train/valid/test; every valid/test entity and relation occurs in train."""
    from kemm.kg.split import split_triples
    from kemm.kg.store import save_splits

    kg = _load(kg_dir)
    res = split_triples(
        kg.triples,
        ratios=ratios,
        seed=seed,
        num_entities=kg.num_entities,
        drop_inverse_leakage=drop_inverse_leakage,
    )
    save_splits(
        kg,
        res.as_dict(),
        extra_meta={
            "split": {
                "ratios": list(ratios),
                "seed": seed,
                "drop_inverse_leakage": drop_inverse_leakage,
                "forced_into_train": res.forced_into_train,
                "moved_for_leakage": res.moved_for_leakage,
            }
        },
    )
    out.print(
        f"train={len(res.train):,} valid={len(res.valid):,} test={len(res.test):,} "
        f"(forced into train for coverage: {res.forced_into_train:,}; "
        f"moved to train for leakage: {res.moved_for_leakage:,})"
    )


@app.command()
def export(
    kg_dir: Path = typer.Argument(..., help="KG directory."),
    to: ExportFormat = typer.Option(
        ...,
        "--to",
        help="ntriples, networkx (.graphml or node-link .json) or pyg (safetensors; kemm.kg.export.load_pyg).",
    ),
    out_path: Path = typer.Option(..., "--out", "-o", help="File to write."),
    split_name: str = typer.Option(None, "--split", help="pyg only: export just this split."),
) -> None:
    """Export the KG to N-Triples, networkx or PyTorch Geometric."""
    from kemm.kg import export as ex

    kg = _load(kg_dir)
    if to is ExportFormat.ntriples:
        n = ex.export_ntriples(kg, out_path)
        out.print(f"wrote {n:,} lines to {out_path}")
    elif to is ExportFormat.networkx:
        ex.export_networkx(kg, out_path)
        out.print(f"wrote {out_path}")
    else:
        ex.export_pyg(kg, out_path, split=split_name)
        out.print(f"wrote {out_path}")


@app.command()
def neighbors(
    kg_dir: Path = typer.Argument(..., help="KG directory."),
    entity: str = typer.Argument(..., help="Entity key, label or alias (or integer id)."),
    direction: str = typer.Option("both", help="out, in or both."),
    limit: int = typer.Option(50, help="Show at most this many edges."),
) -> None:
    """List the edges at ENTITY."""
    if direction not in ("out", "in", "both"):
        raise KemmError(f"--direction must be out, in or both, not {direction!r}")
    kg = _load(kg_dir)
    i = kg.entity_id(entity)
    edges = kg.neighbors(i, direction)  # type: ignore[arg-type]
    t = Table(title=f"{kg.entity_label(i)}  ({kg.entities.keys[i]}): {len(edges)} edges")
    for col in ("", "relation", "entity", "key"):
        t.add_column(col)
    for d, r, v in edges[:limit]:
        t.add_row(
            "->" if d == "out" else "<-", kg.relations.label(r), kg.entity_label(v), kg.entities.keys[v]
        )
    out.print(t)
    if len(edges) > limit:
        out.print(f"... {len(edges) - limit} more (use --limit)")


@app.command()
def subgraph(
    kg_dir: Path = typer.Argument(..., help="KG directory."),
    seeds: str = typer.Option(
        ..., "--seeds", help="Comma-separated question seed entities (key, label or id)."
    ),
    answers: str = typer.Option("", "--answers", help="Comma-separated answer seed entities."),
    hops: int = typer.Option(2, help="Neighbourhood radius (1 or 2)."),
    max_nodes: int = typer.Option(200, "--max-nodes", help="Node cap (seeds always kept)."),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="Write the subgraph: .pt (torch_geometric Data) or .graphml (networkx)."
    ),
    limit: int = typer.Option(30, help="List at most this many nodes."),
) -> None:
    """Extract the pruned k-hop subgraph around seed entities (QA-GNN style)."""
    from kemm.kg.subgraph import extract_subgraph, subgraph_to_networkx
    from kemm.utils.io import atomic_write

    kg = _load(kg_dir)
    q = [kg.entity_id(s.strip()) for s in seeds.split(",") if s.strip()]
    a = [kg.entity_id(s.strip()) for s in answers.split(",") if s.strip()]
    if not q and not a:
        raise KemmError("--seeds names no entity")
    data = extract_subgraph(kg, q, a if a else None, hops=hops, max_nodes=max_nodes)
    t = Table(title=f"subgraph: {data.num_nodes} nodes, {data.edge_index.shape[1]} edges")
    for col in ("node", "label", "key", "role"):
        t.add_column(col)
    answer_mask = data.answer_mask.tolist() if "answer_mask" in data else [False] * data.num_nodes
    for k, (e, s, an) in enumerate(zip(data.node_ids.tolist(), data.seed_mask.tolist(), answer_mask)):
        if k >= limit:
            break
        t.add_row(str(e), kg.entity_label(e), kg.entities.keys[e], "answer" if an else "seed" if s else "")
    out.print(t)
    if out_path is not None:
        if out_path.suffix == ".graphml":
            import networkx as nx

            g = subgraph_to_networkx(data, kg)
            with atomic_write(out_path, "wb") as f:
                nx.write_graphml(g, f)
        else:
            import torch

            with atomic_write(out_path, "wb") as f:
                torch.save(data, f)
        out.print(f"wrote {out_path}")
