#!/usr/bin/env python
"""Benchmark: streaming N-Triples ingestion against ``rdflib.Graph().parse()`` and store memory.

Writes one JSON file with, side by side in one run on the same file:
  * kemm's streaming reader: triples/s (parse + id mapping + building the int32 store), pinned to one core;
  * rdflib's ``Graph().parse(format="nt")`` on the same file: triples/s;
  * the ratio; and the loaded store's bytes per triple beyond the vocabularies.

The input is a synthetic N-Triples file (``--triples`` statements, 10% of them ``rdfs:label``
literals, power-law entity popularity), generated deterministically, or ``--file`` of your own.

    python scripts/bench_ingest.py --out bench_results/ingest.json
    python scripts/bench_ingest.py --only kemm --file data.nt     # one side, for an external timer

``--whole-process N`` times whole processes instead, start-up, statistics and the written store
included: ``kemm kg ingest FILE --out DIR`` against ``python -c "rdflib.Graph().parse(FILE)"``,
run in turn (kemm, rdflib, kemm, ...) N times each; it reports medians and the median of the
pairwise ratios (pairing keeps the ratio meaningful when the machine's speed drifts):

    python scripts/bench_ingest.py --triples 200000 --whole-process 5 --out bench_results/ingest_process.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_ntriples(
    path: Path, n: int, n_entities: int = 200_000, n_relations: int = 200, seed: int = 0
) -> None:
    rng = np.random.default_rng(seed)
    # Zipf-like popularity: a few hubs and a long tail, as in real KGs
    heads = (rng.pareto(1.2, n) * 50).astype(np.int64) % n_entities
    tails = rng.integers(0, n_entities, n)
    rels = (rng.pareto(1.5, n) * 5).astype(np.int64) % n_relations
    is_label = rng.random(n) < 0.1
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, 100_000):
            sl = slice(start, min(n, start + 100_000))
            f.write(
                "".join(
                    f'<http://kemm.example/entity/Q{h}> <http://www.w3.org/2000/01/rdf-schema#label> "entity number {h}"@en .\n'
                    if lab
                    else f"<http://kemm.example/entity/Q{h}> <http://kemm.example/prop/P{r}> <http://kemm.example/entity/Q{t}> .\n"
                    for h, r, t, lab in zip(
                        heads[sl].tolist(), rels[sl].tolist(), tails[sl].tolist(), is_label[sl].tolist()
                    )
                )
            )


ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(cpus: list[int]) -> None:
    if hasattr(os, "sched_setaffinity") and cpus:
        os.sched_setaffinity(0, set(cpus))


def bench_kemm(path: Path, store_dir: Path | None = None, workers: int = 1) -> dict:
    from kemm.kg import KnowledgeGraph, ingest

    t0 = time.perf_counter()
    kg, skipped = ingest([path], workers=workers)
    dt = time.perf_counter() - t0
    out = {
        "seconds": round(dt, 3),
        "triples": kg.num_triples,
        "statements_read": sum(s["triples"] for s in kg.meta["sources"]),
        "entities": kg.num_entities,
        "relations": kg.num_relations,
        "skipped": len(skipped),
        "workers": workers,
        "triples_per_s": round(_count_lines(path) / dt),
        "entity_triples_per_s": round(kg.num_triples / dt),
    }
    if store_dir is not None:
        kg.save(store_dir)
        del kg
        gc.collect()
        from kemm.kg.split import split_triples
        from kemm.kg.store import save_splits

        loaded = KnowledgeGraph.load(store_dir)
        res = split_triples(loaded.triples, seed=0, num_entities=loaded.num_entities)
        save_splits(loaded, res.as_dict())  # count the split index arrays too
        loaded = KnowledgeGraph.load(store_dir)
        tri = loaded.triples
        per_triple = tri.nbytes + (loaded.weights.nbytes if loaded.weights is not None else 0)
        per_triple += sum(v.nbytes for v in loaded.splits.values())
        out["store_bytes_per_triple"] = round(per_triple / max(1, loaded.num_triples), 2)
        out["store_files"] = {p.name: p.stat().st_size for p in sorted(store_dir.iterdir()) if p.is_file()}
    return out


def bench_rdflib(path: Path) -> dict:
    import rdflib

    t0 = time.perf_counter()
    g = rdflib.Graph()
    g.parse(str(path), format="nt")
    dt = time.perf_counter() - t0
    return {"seconds": round(dt, 3), "statements": len(g), "triples_per_s": round(_count_lines(path) / dt)}


RDFLIB_PROCESS = "import rdflib, sys; rdflib.Graph().parse(sys.argv[1], format='nt')"


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, children included) of running ``cmd`` to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_processes(path: Path, store_dir: Path, runs: int) -> dict:
    """``kemm kg ingest`` and an rdflib parse as whole processes, in turn, ``runs`` times each."""
    kemm_cli = Path(sys.executable).with_name("kemm")
    kemm = [str(kemm_cli), "kg", "ingest", str(path), "--out", str(store_dir)]
    rdflib = [sys.executable, "-c", RDFLIB_PROCESS, str(path)]
    _timed(kemm)  # warm-up (page cache, .pyc files), not counted
    _timed(rdflib)
    k_runs, r_runs = [], []
    for _ in range(runs):
        k_runs.append(_timed(kemm))
        r_runs.append(_timed(rdflib))

    def med(xs: list[float]) -> float:
        return round(statistics.median(xs), 3)

    return {
        "runs": runs,
        "kemm_command": " ".join(["kemm", *kemm[1:]]),
        "rdflib_command": f'python -c "{RDFLIB_PROCESS}" {path}',
        "kemm_wall_s": med([w for w, _ in k_runs]),
        "kemm_cpu_s": med([c for _, c in k_runs]),
        "rdflib_wall_s": med([w for w, _ in r_runs]),
        "rdflib_cpu_s": med([c for _, c in r_runs]),
        "speedup_wall": round(statistics.median(r[0] / k[0] for k, r in zip(k_runs, r_runs)), 2),
        "speedup_cpu": round(statistics.median(r[1] / k[1] for k, r in zip(k_runs, r_runs)), 2),
        "kemm_wall_all": [round(w, 3) for w, _ in k_runs],
        "rdflib_wall_all": [round(w, 3) for w, _ in r_runs],
    }


_LINES: dict[Path, int] = {}


def _count_lines(path: Path) -> int:
    if path not in _LINES:
        with open(path, "rb") as f:
            _LINES[path] = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 22), b""))
    return _LINES[path]


def _bench_in_process(path: Path, tmp: Path, only: str | None) -> dict:
    """Readers timed inside this process (parse, ids, int32 store), kemm and rdflib in turn."""
    one_core = ALL_CPUS[:1]
    result: dict = {}
    if only in (None, "kemm"):
        pin(one_core)  # kemm's streaming reader, one process pinned to one core
        result["kemm"] = bench_kemm(path, tmp / "store", workers=1)
    if only in (None, "kemm-parallel"):
        pin(ALL_CPUS)  # the same reader with one parsing worker per available core
        result["kemm_parallel"] = bench_kemm(path, workers=len(ALL_CPUS) or 1)
    if only in (None, "rdflib"):
        pin(one_core)  # rdflib's parser is single-threaded; pinning it costs it nothing
        result["rdflib"] = bench_rdflib(path)
    pin(ALL_CPUS)
    if "kemm" in result and "rdflib" in result:
        rd = result["rdflib"]["triples_per_s"]
        result["speedup_vs_rdflib_one_core"] = round(result["kemm"]["triples_per_s"] / rd, 2)
        result["speedup_vs_rdflib_all_cores"] = round(result["kemm_parallel"]["triples_per_s"] / rd, 2)
        result["targets"] = {
            "speedup_vs_rdflib >= 10 (one core)": result["speedup_vs_rdflib_one_core"] >= 10,
            "speedup_vs_rdflib >= 10 (all cores)": result["speedup_vs_rdflib_all_cores"] >= 10,
            "kemm triples_per_s >= 300k on one core": result["kemm"]["triples_per_s"] >= 300_000,
            "store_bytes_per_triple <= 32": result["kemm"]["store_bytes_per_triple"] <= 32,
        }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triples", type=int, default=1_000_000, help="statements in the synthetic file")
    ap.add_argument("--file", type=Path, help="benchmark this N-Triples file instead of a synthetic one")
    ap.add_argument("--only", choices=["kemm", "kemm-parallel", "rdflib"], help="run one side only")
    ap.add_argument("--out", type=Path, help="JSON output (default: print)")
    ap.add_argument(
        "--whole-process",
        type=int,
        metavar="N",
        help="time whole processes (kemm kg ingest vs an rdflib parse), N alternating runs each",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "synthetic.nt"
            make_ntriples(path, args.triples)
        result = {
            "benchmark": "ntriples_ingest",
            "file": str(args.file) if args.file else f"synthetic ({args.triples} statements)",
            "bytes": path.stat().st_size,
            "lines": _count_lines(path),
            "cpus": ALL_CPUS,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus_available": os.cpu_count(),
        }
        if args.whole_process:
            result["whole_process"] = bench_processes(path, Path(tmp) / "store", args.whole_process)
        else:
            result.update(_bench_in_process(path, Path(tmp), args.only))
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
