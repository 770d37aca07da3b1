"""``linkpred``: filtered link prediction of a KGE run, as an evaluation task.

The ranks and metrics are :func:`kemm.embeddings.run.evaluate_run`'s (filtered, both sides,
realistic ranks, all from :mod:`kemm.evaluation.metrics`); this task puts them into a
:class:`~kemm.evaluation.tasks.base.TaskResult` and writes the predictions file, so that
``kemm eval`` reports a run's link prediction next to its other tasks.

Predictions: two lines per evaluated triple, ``{split}/{index}/tail`` (predict the tail of
``(h, r, ?)``) and ``{split}/{index}/head`` (the head of ``(?, r, t)``); ``prediction`` is the
best-scored entity after filtering the other known true answers, ``gold`` the true one, ``rank``
its realistic filtered rank and ``correct`` whether that rank is 1 (Hits@1; a tie with another
entity is not a hit).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from kemm.embeddings.evaluation import FilterIndex, evaluate
from kemm.embeddings.run import _known, evaluate_run, load_run
from kemm.errors import KemmError
from kemm.evaluation.tasks.base import EVAL_TASKS, EvalTask, Prediction, TaskResult, write_result
from kemm.kg.graph import KnowledgeGraph

logger = logging.getLogger(__name__)


@EVAL_TASKS.register("linkpred", aliases=("link-prediction",))
class LinkPrediction(EvalTask):
    """Filtered link prediction on a split of the KG a KGE run was trained on (:func:`evaluate_linkpred`)."""

    metric = "mrr"
    needs_model = False


def _short(key: str, keys: dict) -> str:
    """A relation's local name (``.../relation/IsA`` -> ``IsA``) when no other relation shares it."""

    def local(k: str) -> str:
        return k.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    return local(key) if sum(local(k) == local(key) for k in keys) == 1 else key


def _best(scores: torch.Tensor, target: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Best-scored column per row of ``scores (B, E)`` once the known true ``(rows, cols)`` other
    than the target are masked; shape ``(B,)``. ``scores`` is modified."""
    b = torch.arange(len(target), device=scores.device)
    true = scores[b, target].clone()  # (B,)
    scores[rows.to(scores.device), cols.to(scores.device)] = float("-inf")
    scores[b, target] = true
    return scores.argmax(1)


@torch.no_grad()
def _top1(model, triples: torch.Tensor, index: FilterIndex, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Best filtered tail and head of each triple of ``triples (n, 3)``: two arrays ``(n,)``."""
    device = next(model.parameters()).device
    tails, heads = [], []
    for i in range(0, len(triples), batch_size):
        h, r, t = triples[i : i + batch_size].to(device).unbind(1)
        rows, cols = index.tails(h.cpu(), r.cpu())
        tails.append(_best(model.score_t(h, r).float(), t, rows, cols).cpu())
        rows, cols = index.heads(r.cpu(), t.cpu())
        heads.append(_best(model.score_h(r, t).float(), h, rows, cols).cpu())
    return torch.cat(tails).numpy(), torch.cat(heads).numpy()


def evaluate_linkpred(
    run_dir: str | Path,
    out_dir: str | Path,
    split: str = "test",
    kg: KnowledgeGraph | str | Path | None = None,
    setting: str = "fact-in-kg",
    batch_size: int | None = None,
    triples: np.ndarray | None = None,
    task: str = "linkpred",
) -> TaskResult:
    """Evaluate the KGE run ``run_dir`` on ``split`` of its KG; write predictions and metrics to ``out_dir``.

    Args:
        kg: the KG to evaluate on (default: the one the run was trained on; a KG with another
            vocabulary is a "mismatched vocabulary" error).
        setting: the knowledge setting the run was trained in, recorded in the result.
        triples: rank these ``(n, 3)`` id triples instead of a split (e.g. a dataset's evaluated
            facts, :func:`kemm.evaluation.facts.fact_triples`); they are filtered as known true
            triples too, so in the fact-removed setting the other removed facts never compete.
            Prediction ids then read ``{split}/{index}/{side}`` with ``split`` naming the set.
        task: the task name recorded (``"linkpred"``; ``"linkpred-facts"`` for evaluated facts).

    Raises:
        KemmError: the split is empty or missing; the run's KG is gone; mismatched vocabulary.
    """
    model, graph = load_run(run_dir, kg)
    known = _known(graph)
    if triples is None:
        if split not in graph.splits or len(graph.splits[split]) == 0:
            raise KemmError(
                f"{graph.path or 'the KG'}: the {split!r} split is missing or empty; nothing to evaluate"
            )
        res = evaluate_run(run_dir, split=split, kg=graph, batch_size=batch_size)
        ranked = graph.split(split)
    else:
        ranked = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        known = np.concatenate([known, ranked])
        res = evaluate(model, ranked, known, relation_names=graph.relations.keys, batch_size=batch_size)
    evaluated = torch.as_tensor(np.asarray(ranked), dtype=torch.long)  # (n, 3)
    index = FilterIndex(torch.as_tensor(known), graph.num_entities, graph.num_relations)
    bs = batch_size or max(1, min(4096, (1 << 24) // max(graph.num_entities, 1)))
    model.eval()
    best_tail, best_head = _top1(model, evaluated, index, bs)
    assert res.ranks_head is not None and res.ranks_tail is not None
    ent, rel = graph.entities.keys, graph.relations.keys
    predictions = []
    for i, (h, r, t) in enumerate(evaluated.tolist()):
        for side, best, gold, rank in (
            ("tail", best_tail[i], t, res.ranks_tail[i]),
            ("head", best_head[i], h, res.ranks_head[i]),
        ):
            predictions.append(
                Prediction(
                    id=f"{split}/{i}/{side}",
                    prediction=ent[int(best)],
                    gold=ent[gold],
                    correct=bool(rank == 1),
                    entities=[ent[h], ent[t]],
                    extra={"relation": rel[r], "rank": float(rank)},
                )
            )
    both = res.both
    result = TaskResult(
        task=task,
        metrics={
            "mrr": both.mrr,
            "mean_rank": both.mean_rank,
            "hits_at_1": both.hits_at_1,
            "hits_at_3": both.hits_at_3,
            "hits_at_10": both.hits_at_10,
        },
        counts={"triples": len(evaluated), "ranks": both.count},
        per_relation={
            _short(k, res.per_relation): {"mrr": m.mrr, "hits_at_10": m.hits_at_10, "count": m.count}
            for k, m in res.per_relation.items()
        },
        groups={
            side: {"mrr": m.mrr, "hits_at_1": m.hits_at_1, "hits_at_10": m.hits_at_10}
            for side, m in (("head", res.head), ("tail", res.tail))
        },
        setting=setting,
        info={"run": str(run_dir), "kg": str(graph.path) if graph.path else None, "split": split},
    )
    return write_result(out_dir, result, predictions)
