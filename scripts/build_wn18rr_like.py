"""Build a WN18RR-like link-prediction split from the bundled WordNet 3.0 (``knowledge_graphs/wordnet``).

WN18RR (Dettmers et al., 2018) is WN18 with the inverse relations removed: of each pair of
mutually inverse pointers only one direction is kept (``hypernym``, not ``hyponym``; ``has_part``,
not ``part_of``), leaving 11 relations. This script applies the same construction to *all* of
WordNet 3.0 instead of WN18's 40,943-synset subset: the 11 relations below, every triple of them,
one seeded split in which each entity and relation of valid/test also occurs in train.

Writes ``OUT/train.txt``, ``OUT/valid.txt``, ``OUT/test.txt`` (``head<TAB>relation<TAB>tail``,
synsets named by offset and part of speech, ``00001740-n``; relations by their WN18RR names,
``_hypernym``), which both ``kemm kg ingest OUT`` and PyKEEN's ``TriplesFactory.from_path`` read,
and ``OUT/summary.json`` with the counts.

    python scripts/build_wn18rr_like.py --out bench_results/wn18rr_like
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from kemm.kg import ingest, split_triples

logger = logging.getLogger("build_wn18rr_like")

ROOT = Path(__file__).resolve().parents[1]

#: WN18RR relation name -> the bundled KG's relation (the direction WN18RR kept of each inverse pair)
WN18RR_RELATIONS = {
    "_hypernym": "hypernym",  # drops hyponym
    "_derivationally_related_form": "derivationally_related_form",  # symmetric
    "_instance_hypernym": "instance_hypernym",  # drops instance_hyponym
    "_also_see": "also_see",
    "_member_meronym": "member_meronym",  # drops member_holonym
    "_synset_domain_topic_of": "domain_topic",  # drops member_of_domain_topic
    "_has_part": "part_meronym",  # drops part_holonym
    "_member_of_domain_usage": "member_of_domain_usage",  # drops domain_usage
    "_member_of_domain_region": "member_of_domain_region",  # drops domain_region
    "_verb_group": "verb_group",  # symmetric
    "_similar_to": "similar_to",  # symmetric
}


def build(source: Path, out: Path, num_valid: int, num_test: int, seed: int) -> dict:
    """Ingest ``source``, keep the 11 relations, split, write ``out``; returns the summary."""
    kg, _ = ingest([source])
    rel_ids = {name: kg.relation_id(bundled) for name, bundled in WN18RR_RELATIONS.items()}
    triples = np.asarray(kg.triples, dtype=np.int64)
    keep = np.isin(triples[:, 1], list(rel_ids.values()))
    triples = np.unique(triples[keep], axis=0)  # (n, 3), sorted: the split's shuffle is the only order
    n = len(triples)
    if num_valid + num_test >= n:
        raise SystemExit(f"asked for {num_valid} + {num_test} evaluation triples of only {n}")
    split = split_triples(triples, (1 - (num_valid + num_test) / n, num_valid / n, num_test / n), seed=seed)
    ent_name = [key.rsplit("/", 1)[-1] for key in kg.entities.keys]  # 00001740-n
    rel_name = {rid: name for name, rid in rel_ids.items()}
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {
        "source": str(source),
        "seed": seed,
        "relations": {name: WN18RR_RELATIONS[name] for name in rel_ids},
        "entities": int(len(np.unique(triples[:, [0, 2]]))),
        "triples": n,
        "splits": {},
        "per_relation": {},
    }
    for name, idx in split.as_dict().items():
        part = triples[idx]
        with open(out / f"{name}.txt", "w", encoding="utf-8") as f:
            f.writelines(f"{ent_name[h]}\t{rel_name[r]}\t{ent_name[t]}\n" for h, r, t in part.tolist())
        summary["splits"][name] = len(part)
        summary["per_relation"][name] = dict(Counter(rel_name[r] for r in part[:, 1].tolist()).most_common())
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=ROOT / "knowledge_graphs" / "wordnet")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_results" / "wn18rr_like")
    ap.add_argument("--valid", type=int, default=3000, help="valid triples (WN18RR: 3,034)")
    ap.add_argument("--test", type=int, default=2500, help="test triples (2,500: 5,000 head and tail ranks)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = build(args.source, args.out, args.valid, args.test, args.seed)
    logger.info(
        "%s: %d entities, %d relations, train/valid/test %d/%d/%d",
        args.out,
        s["entities"],
        len(s["relations"]),
        s["splits"]["train"],
        s["splits"]["valid"],
        s["splits"]["test"],
    )


if __name__ == "__main__":
    main()
