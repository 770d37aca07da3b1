"""``factverify``: KG fact verification, true vs corrupted triples stated in text; accuracy.

:func:`make_statements` turns true facts into a balanced set: each fact once as it is and once
with its object replaced by a *type-consistent* corruption -- an entity that is the object of the
same relation for some other subject (as CommonsenseQA's distractors were drawn), never a true
object of the (subject, relation) in the KG. Each statement is written as text from the KG labels
(``"apple is a fruit."``) for a language model, and keeps its triple for a KGE model.

Scoring (:func:`score_fact_verification`) is the accuracy of the true/false decisions
(:func:`kemm.evaluation.metrics.multiple_choice_accuracy` over the two classes); chance is 0.5.
:func:`kge_decisions` is the KG-embedding baseline: a triple is judged true when the KGE score
clears its relation's threshold, each threshold chosen on validation statements (one global
threshold for a relation without any).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kemm.errors import KemmError
from kemm.evaluation.facts import Fact
from kemm.evaluation.metrics import multiple_choice_accuracy
from kemm.evaluation.tasks.base import EVAL_TASKS, EvalTask, Prediction, TaskResult, breakdown
from kemm.kg.graph import KnowledgeGraph


@EVAL_TASKS.register("factverify", aliases=("fact-verification",))
class FactVerificationTask(EvalTask):
    """True vs corrupted KG triples stated in text; accuracy (chance 0.5)."""

    metric = "accuracy"


@dataclass(frozen=True)
class Statement:
    """One statement to verify: ids of a KG triple, its text, and whether it is true."""

    id: str
    head: int
    relation: int
    tail: int
    text: str
    label: bool
    fact_id: str


def make_statements(kg: KnowledgeGraph, facts: Sequence[Fact], seed: int = 0) -> list[Statement]:
    """Two statements per fact (``{id}/true`` and ``{id}/false``), corruptions seeded by ``seed``.

    Facts must name KG keys (the benchmark's provenance). A fact whose relation has no other
    object to corrupt with is left out, and so is its true statement (the set stays balanced).

    Raises:
        KemmError: no facts; a fact naming an entity or relation outside the KG (the count and an id).
    """
    if not facts:
        raise KemmError("factverify: no facts to state")
    ent, rel = kg.entities.index, kg.relations.index
    rel_by_local = {k.rstrip("/#").rsplit("/", 1)[-1]: i for k, i in rel.items()}
    t = np.asarray(kg.triples, dtype=np.int64)
    objects_of: dict[int, list[int]] = defaultdict(list)
    true_of: dict[tuple[int, int], set[int]] = defaultdict(set)
    for h, r, o in t.tolist():
        objects_of[r].append(o)
        true_of[(h, r)].add(o)
    objects_of = {r: sorted(set(v)) for r, v in objects_of.items()}
    rng = random.Random(seed)
    out, unknown = [], []
    for f in facts:
        r = rel.get(f.relation or "", rel_by_local.get(f.relation or ""))
        h, o = ent.get(f.subject), ent.get(f.objects[0]) if f.objects else None
        if r is None or h is None or o is None:
            unknown.append(f.id)
            continue
        pool = [x for x in objects_of.get(r, []) if x not in true_of[(h, r)] and x != h and x != o]
        if not pool:
            continue
        c = rng.choice(pool)
        label = kg.relations.label(r)
        for suffix, tail, truth in (("true", o, True), ("false", c, False)):
            text = f"{kg.entity_label(h)} {label} {kg.entity_label(tail)}."
            out.append(Statement(f"{f.id}/{suffix}", h, r, tail, text, truth, f.id))
    if unknown:
        raise KemmError(
            f"factverify: {len(unknown)} of {len(facts)} facts name an entity or relation outside the KG "
            f"(e.g. {unknown[0]}): the dataset does not belong to this KG"
        )
    if not out:
        raise KemmError("factverify: no fact could be corrupted (no other object of its relation)")
    return out


@torch.no_grad()
def kge_scores(model, statements: Sequence[Statement]) -> np.ndarray:
    """The KGE model's score of each statement's triple, shape ``(n,)``."""
    h, r, t = (
        torch.tensor([getattr(s, k) for s in statements], dtype=torch.long)
        for k in ("head", "relation", "tail")
    )
    model.eval()
    return model.score_hrt(h, r, t).float().cpu().numpy()


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold (midpoint between sorted scores) that classifies ``scores >= thr`` best."""
    order = np.unique(scores)
    cands = np.concatenate([[order[0] - 1.0], (order[1:] + order[:-1]) / 2, [order[-1] + 1.0]])
    acc = [((scores >= c) == labels).mean() for c in cands]
    return float(cands[int(np.argmax(acc))])


def kge_decisions(model, valid: Sequence[Statement], test: Sequence[Statement]) -> dict[str, bool]:
    """True/false per test statement from KGE scores and per-relation thresholds tuned on ``valid``."""
    if not valid:
        raise KemmError("factverify: no validation statements to choose thresholds on")
    vs, ts = kge_scores(model, valid), kge_scores(model, test)
    vl = np.array([s.label for s in valid])
    vr = np.array([s.relation for s in valid])
    overall = _best_threshold(vs, vl)
    thresholds = {int(r): _best_threshold(vs[vr == r], vl[vr == r]) for r in np.unique(vr)}
    return {s.id: bool(score >= thresholds.get(s.relation, overall)) for s, score in zip(test, ts)}


def _accuracy(preds: Sequence[Prediction]) -> dict[str, float]:
    return {
        "accuracy": multiple_choice_accuracy([int(p.prediction) for p in preds], [int(p.gold) for p in preds])
    }


def score_fact_verification(
    statements: Sequence[Statement],
    decisions: Mapping[str, bool],
    kg: KnowledgeGraph,
    heldout: set[str] | None = None,
    setting: str = "fact-in-kg",
) -> tuple[TaskResult, list[Prediction]]:
    """Accuracy of ``decisions[id]`` (True: the statement is judged true), per relation and for
    held-out subjects."""
    if not statements:
        raise KemmError("factverify: no statements to evaluate")
    missing = [s.id for s in statements if s.id not in decisions]
    if missing:
        raise KemmError(f"factverify: {len(missing)} statements have no decision (e.g. {missing[0]})")
    keys, rels = kg.entities.keys, kg.relations.keys
    preds = [
        Prediction(
            s.id,
            bool(decisions[s.id]),
            s.label,
            bool(decisions[s.id]) == s.label,
            [keys[s.head], keys[s.tail]],
            {"text": s.text, "relation": rels[s.relation].rstrip("/#").rsplit("/", 1)[-1]},
        )
        for s in statements
    ]
    groups = {}
    if heldout is not None:
        groups = breakdown(
            preds, {s.id: "heldout" if keys[s.head] in heldout else "seen" for s in statements}, _accuracy
        )
    result = TaskResult(
        task="factverify",
        metrics=_accuracy(preds),
        counts={"statements": len(preds), "facts": len({s.fact_id for s in statements})},
        per_relation=breakdown(preds, {p.id: p.extra["relation"] for p in preds}, _accuracy),
        groups=groups,
        setting=setting,
    )
    return result, preds
