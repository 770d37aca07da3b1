"""Scale check: one TransE epoch on a synthetic 1M-entity / 10M-triple KG on CPU, then filtered
evaluation of 10k test triples against all 1M entities. Writes JSON (peak RSS, triples/s, seconds).

Sparse gradients (``nn.Embedding(sparse=True)`` + ``SparseAdam``) keep a step's cost proportional to
the batch; ``--dense`` runs the same with dense Adam for comparison (cap it with ``--max-steps``).

    python scripts/bench_kge_scale.py --out bench_results/kge_scale.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from kemm.embeddings import build_model
from kemm.embeddings.config import TrainConfig
from kemm.embeddings.evaluation import evaluate
from kemm.embeddings.training import Trainer


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--relations", type=int, default=100)
    ap.add_argument("--triples", type=int, default=10_000_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument(
        "--max-steps", type=int, default=0, help="stop the epoch after this many steps (0: full epoch)"
    )
    ap.add_argument("--dense", action="store_true", help="dense Adam instead of sparse tables + SparseAdam")
    ap.add_argument("--out", type=Path, default=Path("bench_results/kge_scale.json"))
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    # Zipf-like head/tail popularity, as in real KGs
    ent = np.minimum(rng.zipf(1.3, size=2 * args.triples) - 1, args.entities - 1)
    ent = rng.permutation(args.entities)[ent]
    triples = np.stack(
        [ent[: args.triples], rng.integers(args.relations, size=args.triples), ent[args.triples :]], 1
    ).astype(np.int64)
    test, train = triples[: args.test], triples[args.test :]
    out: dict = {
        "entities": args.entities,
        "relations": args.relations,
        "train_triples": len(train),
        "dim": args.dim,
        "batch_size": args.batch_size,
        "sparse": not args.dense,
        "rss_after_data_mib": peak_rss_mib(),
    }
    torch.manual_seed(0)
    model = build_model(
        "transe",
        args.entities,
        args.relations,
        dim=args.dim,
        p=2,
        normalize_entities=False,
        sparse=not args.dense,
    )
    cfg = TrainConfig(
        model="transe",
        loss="margin",
        num_negatives=1,
        corruption="uniform",
        lr=0.01,
        batch_size=args.batch_size,
        epochs=1,
        tensorboard=False,
    )
    data = train[: args.max_steps * args.batch_size] if args.max_steps else train
    trainer = Trainer(model, data, cfg)
    t0 = time.perf_counter()
    res = trainer.fit()
    out["train_seconds"] = time.perf_counter() - t0
    out["trained_triples"] = len(data)
    out["triples_per_second"] = len(data) / res.history[0]["seconds"]
    out["loss"] = res.history[0]["loss"]
    out["rss_after_train_mib"] = peak_rss_mib()
    ev = evaluate(model, test, triples, batch_size=64)
    out["eval_triples"] = len(test)
    out["eval_seconds"] = ev.seconds
    out["eval_mrr"] = ev.mrr
    out["peak_rss_mib"] = peak_rss_mib()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
