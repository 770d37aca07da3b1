"""Where a KGE training step's time goes: ``torch.profiler`` over whole epochs of kemm's trainer,
the operators by self CPU time, written as JSON.

    python scripts/profile_kge_step.py --kg bench_results/kg/wn18rr_like --config configs/kge/transe.yaml \
        --out bench_results/profile_transe_wn18rr.json

``--kg`` is a saved kemm KG (``bench_results/kg/<name>`` after ``scripts/bench_kge.py`` ran on it, or
``kemm kg ingest``); one torch thread by default, as the throughput table. The row-indexed
operators (``index_select``, ``index_copy_``, ``index_add_``) are summed apart: on a table larger
than the cache they are the random-access memory traffic of the look-ups and the lazy Adam update.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from kemm.embeddings import build_model
from kemm.embeddings.config import TrainConfig
from kemm.embeddings.training import train_model
from kemm.kg import KnowledgeGraph
from kemm.utils.io import atomic_write

ROW_OPS = ("aten::index_select", "aten::index_copy_", "aten::index_add_", "aten::embedding")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kg", required=True, help="a saved kemm KG with a train split")
    ap.add_argument("--config", default="configs/kge/transe.yaml")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    kg = KnowledgeGraph.load(args.kg)
    train = kg.split("train").astype(np.int64)
    cfg = dataclasses.replace(
        TrainConfig.from_yaml(args.config), epochs=args.epochs, tensorboard=False, eval_every=0
    )
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, kg.num_entities, kg.num_relations, **cfg.model_kwargs)
    steps = args.epochs * -(-len(train) // cfg.batch_size)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        t0, c0 = time.perf_counter(), time.process_time()
        train_model(model, train, cfg)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total_us = sum(e.self_cpu_time_total for e in events)
    ops = [
        {
            "op": e.key,
            "calls_per_step": round(e.count / steps, 2),
            "self_ms_per_step": round(e.self_cpu_time_total / 1000 / steps, 4),
            "share": round(e.self_cpu_time_total / total_us, 4),
        }
        for e in events[: args.top]
    ]
    rows_us = sum(e.self_cpu_time_total for e in events if e.key in ROW_OPS)
    result = {
        "kg": args.kg,
        "config": args.config,
        "entities": kg.num_entities,
        "train_triples": len(train),
        "steps": steps,
        "threads": args.threads,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "triples_per_cpu_second": round(len(train) * args.epochs / cpu),
        "ms_per_step_wall": round(wall * 1000 / steps, 4),
        "profiled_ms_per_step": round(total_us / 1000 / steps, 4),
        "row_indexed_ms_per_step": round(rows_us / 1000 / steps, 4),
        "row_indexed_share": round(rows_us / total_us, 4),
        "top_ops": ops,
        "note": "profiler overhead included; compare the shares, not the absolute step time",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in result.items() if k != "top_ops"}, indent=2))
    for o in ops:
        print(f"  {o['op']:<40} {o['calls_per_step']:>6} calls/step {o['self_ms_per_step']:>8.3f} ms/step")


if __name__ == "__main__":
    main()
