"""The facts a dataset evaluates, and the fact-removed knowledge setting.

Every task is reported in two settings (:data:`kemm.evaluation.tasks.base.SETTINGS`):

1. *fact in the KG*: the usual setting; the KG holds the (subject, relation, answer) fact asked about.
2. *fact removed*: :func:`remove_evaluated_facts` deletes every evaluated fact from the KG -- in both
   directions where the relation has an inverse in the KG -- and writes a new KG directory. KG
   embeddings are then trained on it and subgraphs retrieved from it, so a model must infer the
   fact from related knowledge.

Where a fact comes from (:func:`read_facts`):

* the bundled benchmark's records carry a ``kemm`` field with the KG keys (LAMA/CSQA: ``subject``,
  ``relation``, ``object``/``answer``; OK-VQA annotations: ``subject``, ``relation``, ``objects``);
* real LAMA lines: the subject and object URIs when given (T-REx: Wikidata ids), else the labels,
  with the LAMA relation (``pred``/``predicate_id``);
* real CommonsenseQA/OpenBookQA: ``question_concept`` and the correct choice's text, with no
  relation: every edge between the two, in either direction and under any relation, is removed;
* real OK-VQA/A-OKVQA carry no KG fact: :func:`read_facts` raises rather than remove nothing.

Names are resolved against the KG by key, then by the local name of the key
(``.../relation/IsA`` for ``IsA``; Wikidata ``Q90`` for ``http://www.wikidata.org/entity/Q90``),
then by label or alias; a label naming several entities removes the fact for each of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kemm.data import ClozeExample, MultipleChoiceExample
from kemm.data.readers.base import iter_jsonl, load_json
from kemm.data.readers.vqa import annotations_path_for
from kemm.errors import KemmError
from kemm.evaluation.datasets import example_id
from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers.base import ErrorPolicy
from kemm.kg.vocab import Vocabulary

logger = logging.getLogger(__name__)

#: A relation pair counts as inverse (or a relation as symmetric) when at least this fraction of
#: the smaller relation's edges appear reversed under the other (WN18's hypernym/hyponym: ~1.0).
INVERSE_MIN_OVERLAP = 0.8


@dataclass(frozen=True)
class Fact:
    """A (subject, relation, objects) fact asked about by one example; names as the source gives them.

    Attributes:
        id: the example's id.
        subject: the subject (a KG key, a URI or a label).
        relation: the relation (a key or a short name like ``"IsA"``); None: any relation.
        objects: every correct answer (one for LAMA and multiple choice; VQA may have several).
    """

    id: str
    subject: str
    relation: str | None
    objects: tuple[str, ...]


# --------------------------------------------------------------------------------------------------
# reading facts
# --------------------------------------------------------------------------------------------------


def _benchmark_fields(dataset_format: str, path: Path) -> dict[str, dict]:
    """id -> the ``kemm`` provenance field of each record of a benchmark file (empty when none)."""
    out: dict[str, dict] = {}
    if dataset_format in ("okvqa", "vqav2"):
        ann_path = annotations_path_for(path)
        if not ann_path.exists():
            return out
        for ann in load_json(ann_path).get("annotations", []):
            if isinstance(ann, dict) and isinstance(ann.get("kemm"), dict):
                out[str(ann["question_id"])] = ann["kemm"]
        return out
    if path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz"):
        for _, rec in iter_jsonl(path, ErrorPolicy(on_error="skip")):
            if isinstance(rec.get("kemm"), dict):
                out[str(rec.get("id", rec.get("uuid")))] = rec["kemm"]
    return out


def fact_of(example: Any, provenance: dict | None = None) -> Fact | None:
    """The fact ``example`` asks about (``provenance``: its record's ``kemm`` field), or None when unknown."""
    eid = example_id(example)
    prov = provenance if provenance is not None else example.extra.get("kemm")
    if isinstance(prov, dict) and "subject" in prov:
        objects = prov.get("objects") or [prov.get("object", prov.get("answer"))]
        return Fact(eid, str(prov["subject"]), prov.get("relation"), tuple(str(o) for o in objects if o))
    if isinstance(example, ClozeExample):
        subject = example.subject_uri or example.subject
        obj = example.object_uri or example.answer
        return Fact(eid, subject, example.relation, (obj,)) if subject and obj else None
    if isinstance(example, MultipleChoiceExample):
        if example.question_concept is None or example.answer is None:
            return None
        return Fact(eid, example.question_concept, None, (example.choices[example.answer],))
    return None  # VQAExample without provenance: the question names no KG fact


def read_facts(
    examples: Sequence[Any], dataset_format: str | None = None, path: str | Path | None = None
) -> list[Fact]:
    """The fact of every example; benchmark provenance is read from ``path`` when given.

    Raises:
        KemmError: some examples state no fact (their count and a few ids are named): the
            fact-removed setting cannot be built for them.
    """
    provenance = _benchmark_fields(dataset_format, Path(path)) if dataset_format and path else {}
    facts, unknown = [], []
    for ex in examples:
        f = fact_of(ex, provenance.get(example_id(ex)))
        if f is None or not f.objects:
            unknown.append(example_id(ex))
        else:
            facts.append(f)
    if unknown:
        kinds = {type(e).__name__ for e in examples}
        raise KemmError(
            f"{len(unknown)} of {len(examples)} examples ({', '.join(sorted(kinds))}) state no KG fact "
            f"(no 'kemm' provenance, subject or answer), e.g. {', '.join(unknown[:5])}; "
            "the fact-removed setting needs one per example"
        )
    return facts


# --------------------------------------------------------------------------------------------------
# resolving names and inverse relations
# --------------------------------------------------------------------------------------------------


def _local(key: str) -> str:
    return key.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _resolver(vocab: Vocabulary):
    by_local: dict[str, list[int]] = {}
    for i, k in enumerate(vocab.keys):
        by_local.setdefault(_local(k), []).append(i)

    def resolve(name: str) -> list[int]:
        if name in vocab.index:
            return [vocab.index[name]]
        ids = by_local.get(_local(name)) or vocab.lookup(name)
        if not ids and "_" in name:  # ConceptNet-style "hot_dog" for the label "hot dog"
            ids = vocab.lookup(name.replace("_", " "))
        return list(ids)

    return resolve


def find_inverse_relations(
    kg: KnowledgeGraph, min_overlap: float = INVERSE_MIN_OVERLAP
) -> dict[int, set[int]]:
    """Relation id -> the relation ids that hold its edges reversed (itself when symmetric).

    ``r2`` is an inverse of ``r1`` when at least ``min_overlap`` of the edges of the relation with
    fewer edges appear reversed under the other (``(h, r1, t)`` with ``(t, r2, h)``).
    """
    t = np.asarray(kg.triples, dtype=np.int64)
    n = max(kg.num_entities, 1)
    pairs = {int(r): np.unique(t[t[:, 1] == r][:, 0] * n + t[t[:, 1] == r][:, 2]) for r in np.unique(t[:, 1])}
    reversed_pairs = {r: np.unique((p % n) * n + p // n) for r, p in pairs.items()}
    out: dict[int, set[int]] = {}
    for r1, p1 in pairs.items():
        for r2, rev2 in reversed_pairs.items():
            smaller = min(len(p1), len(rev2))
            if smaller == 0:
                continue
            overlap = np.intersect1d(p1, rev2, assume_unique=True).size / smaller
            if overlap >= min_overlap:
                out.setdefault(r1, set()).add(r2)
    return out


def fact_edge_tests(
    kg: KnowledgeGraph, facts: Sequence[Fact | None], inverses: dict[int, set[int]]
) -> list[Any]:
    """Per fact, a predicate ``(head_id, relation_id, tail_id) -> bool``: does this KG edge state it?

    True for ``(s, r, o)`` and for ``(o, r', s)`` with ``r'`` an inverse of ``r`` (``inverses`` as
    :func:`find_inverse_relations` gives them), and for every edge between ``s`` and ``o`` when the
    fact has no relation: the edges :func:`remove_evaluated_facts` removes. None for a missing fact
    or one naming what the KG does not hold.
    """
    ent, rel = _resolver(kg.entities), _resolver(kg.relations)
    return [_edge_test(f, ent, rel, inverses) if f is not None else None for f in facts]


def _edge_test(fact: Fact, ent: Any, rel: Any, inverses: dict[int, set[int]]) -> Any:
    subject, objects = ent(fact.subject), [ent(o) for o in fact.objects]
    if not subject or not all(objects):
        return None
    s, objs = subject[0], {o[0] for o in objects}
    r: int | None = None
    if fact.relation is not None:
        found = rel(fact.relation)
        if not found:
            return None
        r = found[0]
    inv = inverses.get(r, set()) if r is not None else set()

    def states(h: int, rr: int, t: int) -> bool:
        if h == s and t in objs:
            return r is None or rr == r
        if t == s and h in objs:
            return r is None or rr in inv
        return False

    return states


def fact_triples(kg: KnowledgeGraph, facts: Iterable[Fact]) -> np.ndarray:
    """The ``(n, 3)`` id triples ``(subject, relation, object)`` of ``facts`` (one per object;
    the first entity a name resolves to), for ranking them by link prediction.

    Raises:
        KemmError: a fact without a relation, or naming what the KG does not hold (count and an id).
    """
    ent, rel = _resolver(kg.entities), _resolver(kg.relations)
    rows: list[tuple[int, int, int]] = []
    bad: list[str] = []
    for f in facts:
        s, r = ent(f.subject), rel(f.relation) if f.relation is not None else []
        objects = [ent(o) for o in f.objects]
        if not s or not r or not all(objects):
            bad.append(f.id)
            continue
        rows.extend((s[0], r[0], o[0]) for o in objects)
    if bad:
        raise KemmError(
            f"{len(bad)} facts have no relation or name entities outside the KG {kg.path or ''} (e.g. {bad[0]})"
        )
    if not rows:
        raise KemmError("no facts to rank")
    return np.asarray(sorted(set(rows)), dtype=np.int64).reshape(-1, 3)


# --------------------------------------------------------------------------------------------------
# removal
# --------------------------------------------------------------------------------------------------


@dataclass
class FactRemoval:
    """What :func:`remove_evaluated_facts` did.

    Attributes:
        path: the new KG directory.
        removed: triples removed (both directions counted).
        facts: facts asked to remove.
        facts_found: facts with at least one matching triple in the KG.
        unresolved: ids of facts whose subject, relation or every object is not in the KG.
        inverses: relation key -> the inverse relation keys used.
    """

    path: Path
    removed: int
    facts: int
    facts_found: int
    unresolved: list[str] = field(default_factory=list)
    inverses: dict[str, list[str]] = field(default_factory=dict)

    def __iter__(self):  # ``path, removed = remove_evaluated_facts(...)``
        return iter((self.path, self.removed))


def remove_evaluated_facts(
    kg: KnowledgeGraph | str | Path,
    facts: Iterable[Fact],
    out: str | Path,
    inverses: dict[str, list[str]] | Literal["auto"] | None = "auto",
    on_unresolved: Literal["raise", "count"] = "raise",
) -> FactRemoval:
    """Write to ``out`` a copy of ``kg`` without any of ``facts``, in both directions where an inverse exists.

    For each fact, every triple ``(s, r, o)`` with ``s`` the subject, ``r`` the relation and ``o``
    one of its objects is removed, and ``(o, r', s)`` for every inverse ``r'`` of ``r`` (a symmetric
    relation is its own inverse). A fact without a relation removes every edge between ``s`` and
    ``o``, both ways. Entities and relations keep their ids (a KGE run on the new KG has the same
    vocabulary fingerprint); splits are re-indexed without the removed triples.

    Args:
        inverses: ``"auto"`` (default): detected by :func:`find_inverse_relations`; a mapping
            relation name -> inverse names; None: no inverse removal.
        on_unresolved: ``"raise"`` (default) when a fact's subject, relation or every object is
            not in the KG (the dataset does not belong to this KG); ``"count"``: list them in
            :attr:`FactRemoval.unresolved` and carry on.

    Raises:
        KemmError: no facts; unresolved names under ``on_unresolved="raise"``.
    """
    kg = kg if isinstance(kg, KnowledgeGraph) else KnowledgeGraph.load(kg)
    facts = list(facts)
    if not facts:
        raise KemmError("no facts to remove: the dataset is empty")
    ent, rel = _resolver(kg.entities), _resolver(kg.relations)
    if inverses == "auto":
        inv_ids = find_inverse_relations(kg)
    else:
        inv_ids = {}
        for name, others in (inverses or {}).items():
            for r in rel(name):
                inv_ids.setdefault(r, set()).update(i for o in others for i in rel(o))
    t = np.asarray(kg.triples, dtype=np.int64)
    E, R = max(kg.num_entities, 1), max(kg.num_relations, 1)
    keys = (t[:, 0] * R + t[:, 1]) * E + t[:, 2]  # (N,) one int64 per triple
    # every (s, o) pair with any relation, for relation-less facts
    pair_keys = t[:, 0] * E + t[:, 2]
    drop_keys: set[int] = set()
    drop_pairs: set[int] = set()
    unresolved: list[str] = []
    for f in facts:
        subjects = ent(f.subject)
        objects = [i for o in f.objects for i in ent(o)]
        relations = rel(f.relation) if f.relation is not None else []
        if not subjects or not objects or (f.relation is not None and not relations):
            unresolved.append(f.id)
            continue
        for s in subjects:
            for o in objects:
                if f.relation is None:
                    drop_pairs.update((s * E + o, o * E + s))
                    continue
                for r in relations:
                    drop_keys.add((s * R + r) * E + o)
                    for r2 in inv_ids.get(r, ()):
                        drop_keys.add((o * R + r2) * E + s)
    if unresolved and on_unresolved == "raise":
        raise KemmError(
            f"{len(unresolved)} of {len(facts)} facts name an entity or relation that is not in the KG "
            f"{kg.path or ''} (e.g. {', '.join(unresolved[:5])}): the dataset does not belong to this KG"
        )
    drop = np.isin(keys, np.fromiter(drop_keys, np.int64, len(drop_keys)))
    drop |= np.isin(pair_keys, np.fromiter(drop_pairs, np.int64, len(drop_pairs)))
    found = _facts_found(facts, ent, rel, set(keys[drop].tolist()), set(pair_keys[drop].tolist()), E, R)
    keep = np.flatnonzero(~drop)
    new_index = np.full(len(t), -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    splits = {}
    for name, idx in kg.splits.items():
        mapped = new_index[np.asarray(idx, dtype=np.int64)]
        splits[name] = mapped[mapped >= 0]
    inverse_names = {
        kg.relations.keys[r]: sorted(kg.relations.keys[i] for i in others) for r, others in inv_ids.items()
    }
    meta = dict(kg.meta)
    meta["facts_removed"] = {
        "source": str(kg.path) if kg.path else None,
        "facts": len(facts),
        "facts_found": found,
        "triples_removed": int(drop.sum()),
        "unresolved": len(unresolved),
        "inverses": inverse_names,
    }
    meta.pop("files", None)
    new = KnowledgeGraph(
        entities=kg.entities,
        relations=kg.relations,
        triples=np.ascontiguousarray(np.asarray(kg.triples)[keep]),
        weights=np.asarray(kg.weights)[keep] if kg.weights is not None else None,
        attributes=kg.attributes,
        splits=splits,
        meta=meta,
    )
    path = new.save(out)
    logger.info(
        "removed %d triples for %d facts (%d found in the KG, %d unresolved); wrote %s",
        int(drop.sum()),
        len(facts),
        found,
        len(unresolved),
        path,
    )
    return FactRemoval(path, int(drop.sum()), len(facts), found, unresolved, inverse_names)


def _facts_found(facts, ent, rel, dropped_keys: set, dropped_pairs: set, E: int, R: int) -> int:
    """How many facts had a triple among the dropped ones (in the stated direction)."""
    n = 0
    for f in facts:
        subjects, objects = ent(f.subject), [i for o in f.objects for i in ent(o)]
        if f.relation is None:
            hit = any(
                s * E + o in dropped_pairs or o * E + s in dropped_pairs for s in subjects for o in objects
            )
        else:
            hit = any(
                (s * R + r) * E + o in dropped_keys
                for s in subjects
                for o in objects
                for r in rel(f.relation)
            )
        n += bool(hit)
    return n
