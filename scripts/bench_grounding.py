"""Grounding + 2-hop subgraph extraction for (question, answer-choice) pairs, on one CPU core.

    kemm kg ingest knowledge_graphs/wordnet --out /tmp/wn
    python scripts/bench_grounding.py --kg /tmp/wn --wordnet-dir knowledge_graphs/wordnet \
        --pairs 60000 --out runs/bench/grounding.json

CommonsenseQA's train split has 9,741 questions x 5 choices; without ``--questions FILE`` (a real
CommonsenseQA JSONL) the questions are made from WordNet itself: the stem asks for a synset by its
gloss ("Which is a member of the genus Canis ...?") and the five choices are the synset's lemma and
four lemmas of random synsets. Each question and choice is linked with the phrase matchers (exact +
lemma, WordNet sense-rank priors, coherence), then every (question, choice) pair gets the 2-hop
subgraph with a 200-node cap from the CSR adjacency. The process is pinned to one core. The time of
building the linker (alias table, phrase matchers) is reported apart from the grounding time, with
whether the alias cache next to the KG (``KG_DIR/cache``, :mod:`kemm.linking.cache`) was read
(``warm``) or built (``cold``); delete that folder to measure a cold start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np

from kemm.data import MultipleChoiceExample, read_dataset
from kemm.kg import KnowledgeGraph
from kemm.kg.subgraph import extract_subgraph
from kemm.linking import EntityLinker, LinkerConfig
from kemm.linking.cache import AliasCache
from kemm.linking.pipeline import load_pipeline
from kemm.utils.io import atomic_write


def synthetic_questions(
    kg: KnowledgeGraph, n: int, choices: int = 5, seed: int = 0
) -> list[MultipleChoiceExample]:
    rng = random.Random(seed)
    ents = kg.entities
    pool = [i for i in range(len(ents)) if ents.descriptions[i] and ents.labels[i]]
    out = []
    for k in range(n):
        i = rng.choice(pool)
        gloss = ents.descriptions[i].split(";")[0].strip().rstrip(".")
        labels = [ents.labels[i]] + [ents.labels[rng.choice(pool)] for _ in range(choices - 1)]
        rng.shuffle(labels)
        out.append(
            MultipleChoiceExample(
                f"wn-{k}", f"Which is {gloss}?", labels, [chr(65 + j) for j in range(len(labels))]
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--kg",
        type=Path,
        required=True,
        help="KG directory (WordNet: kemm kg ingest knowledge_graphs/wordnet)",
    )
    ap.add_argument(
        "--wordnet-dir", type=Path, default=None, help="WordNet index files for sense-rank priors"
    )
    ap.add_argument("--questions", type=Path, default=None, help="CommonsenseQA JSONL (default: synthetic)")
    ap.add_argument("--pairs", type=int, default=60_000, help="(question, choice) pairs to ground")
    ap.add_argument("--hops", type=int, default=2)
    ap.add_argument("--max-nodes", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=512, help="questions per nlp.pipe batch")
    ap.add_argument("--core", type=int, default=0, help="CPU core to pin to (-1: no pinning)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench/grounding.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    import torch

    torch.set_num_threads(1)
    import torch_geometric.data  # noqa: F401 - a one-time import, not part of any pair's time

    t0 = time.perf_counter()
    kg = KnowledgeGraph.load(args.kg)
    kg.csr("out"), kg.csr("in")
    load_s = time.perf_counter() - t0
    cfg = LinkerConfig(
        encoder=None, dense=False, wordnet_dir=str(args.wordnet_dir) if args.wordnet_dir else None
    )
    cache = AliasCache.for_kg(kg, cfg, load_pipeline(cfg.pipeline)[1])
    alias_cache = "warm" if cache is not None and cache.path.is_file() else "cold"
    t0 = time.perf_counter()
    linker = EntityLinker.from_kg(kg, cfg)
    setup_s = time.perf_counter() - t0
    if args.questions is not None:
        questions = list(read_dataset("commonsenseqa", args.questions))
        source = str(args.questions)
    else:
        questions = synthetic_questions(kg, -(-args.pairs // 5))
        source = "synthetic from WordNet glosses and lemmas"
    pairs_total = 0
    per_pair: list[float] = []
    nodes, edges, links_q, links_c = [], [], [], []
    t_start = time.perf_counter()
    for s in range(0, len(questions), args.batch_size):
        batch = questions[s : s + args.batch_size]
        n_pairs = sum(len(q.choices) for q in batch)
        if pairs_total + n_pairs > args.pairs:
            batch = batch[: max(1, (args.pairs - pairs_total) // max(len(batch[0].choices), 1))]
        t0 = time.perf_counter()
        texts = [q.question for q in batch] + [t for q in batch for t in q.choices]
        res = linker.link_many(texts, batch_size=args.batch_size)
        link_s = time.perf_counter() - t0
        n_pairs = sum(len(q.choices) for q in batch)
        link_share = link_s / max(n_pairs, 1)
        cres = iter(res[len(batch) :])
        for q, qr in zip(batch, res[: len(batch)]):
            links_q.append(len(qr))
            for _ in q.choices:
                cr = next(cres)
                links_c.append(len(cr))
                t1 = time.perf_counter()
                g = extract_subgraph(
                    kg, qr.entity_ids, cr.entity_ids, hops=args.hops, max_nodes=args.max_nodes
                )
                per_pair.append(link_share + time.perf_counter() - t1)
                nodes.append(g.num_nodes)
                edges.append(g.edge_index.shape[1])
        pairs_total += n_pairs
        if pairs_total >= args.pairs:
            break
    total_s = time.perf_counter() - t_start
    ms = np.array(per_pair) * 1000
    report = {
        "kg": str(args.kg),
        "num_entities": kg.num_entities,
        "num_triples": kg.num_triples,
        "questions_source": source,
        "questions": len(links_q),
        "pairs": pairs_total,
        "hops": args.hops,
        "max_nodes": args.max_nodes,
        "pinned_core": args.core,
        "linker": {
            "pipeline": linker.pipeline.name,
            "encoder": None,
            "dense": False,
            "wordnet_priors": args.wordnet_dir is not None,
            "surface_forms": len(linker.table),
        },
        "kg_load_seconds": round(load_s, 2),
        "linker_setup_seconds": round(setup_s, 2),
        "alias_cache": alias_cache,
        "grounding_total_seconds": round(total_s, 2),
        "pairs_per_second": round(pairs_total / total_s, 1),
        "per_pair_ms": {
            "p50": round(float(np.percentile(ms, 50)), 3),
            "p95": round(float(np.percentile(ms, 95)), 3),
            "p99": round(float(np.percentile(ms, 99)), 3),
            "max": round(float(ms.max()), 3),
        },
        "links_per_question_mean": round(float(np.mean(links_q)), 2),
        "links_per_choice_mean": round(float(np.mean(links_c)), 2),
        "subgraph_nodes": {"mean": round(float(np.mean(nodes)), 1), "p95": float(np.percentile(nodes, 95))},
        "subgraph_edges": {"mean": round(float(np.mean(edges)), 1), "p95": float(np.percentile(edges, 95))},
        "under_2_minutes": total_s < 120,
    }
    with atomic_write(args.out) as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
