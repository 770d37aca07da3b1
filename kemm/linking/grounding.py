"""Grounding of multiple-choice questions (CommonsenseQA JSONL) into a KG, as QA-GNN preprocesses them.

The questions are read by the ``commonsenseqa`` reader of :mod:`kemm.data` (any registered
multiple-choice format works through ``dataset=``). Each question stem and each answer choice is linked; each (question, choice) pair gets the pruned
2-hop subgraph around its seeds (:func:`kemm.kg.subgraph.extract_subgraph`). The output JSONL has
one record per question. Runs resume: records go to ``<out>.partial`` (appended and flushed per
batch); ids already there, or in an existing ``<out>``, are skipped; on completion the partial file
is renamed onto ``<out>`` in one atomic step. The run's fingerprint (settings, questions checksum,
KG size: :mod:`kemm.training.resume`) is kept in ``<out>.fingerprint.json``; continuing with
other ones is an error naming what changed. Unreadable records are counted and listed in
``<out>.skipped.tsv`` (source, line, reason, text: the reader's own messages).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kemm.data import MultipleChoiceExample, read_dataset
from kemm.kg.subgraph import extract_subgraph
from kemm.linking.linker import EntityLinker, LinkResult

logger = logging.getLogger(__name__)


@dataclass
class GroundingStats:
    """What a run did: records written now, found done from an earlier run, and skipped as unreadable."""

    written: int = 0
    resumed: int = 0
    skipped: int = 0
    skipped_path: Path | None = None
    skipped_rows: list[tuple[str, int | None, str, str]] = field(default_factory=list)


def _concepts(res: LinkResult) -> list[dict]:
    return [
        {
            "key": lk.key,
            "label": lk.label,
            "text": lk.text,
            "start": lk.start,
            "end": lk.end,
            "reason": lk.reason,
        }
        for lk in res
    ]


def ground_batch(
    linker: EntityLinker, questions: list[MultipleChoiceExample], hops: int = 2, max_nodes: int = 200
) -> list[dict]:
    """Grounded records of a batch of questions (one ``link_many`` call for all their texts)."""
    texts = [q.question for q in questions] + [t for q in questions for t in q.choices]
    results = linker.link_many(texts)
    qres, cres = results[: len(questions)], iter(results[len(questions) :])
    records = []
    for q, qr in zip(questions, qres):
        seeds = qr.entity_ids
        choices = []
        for label, text in zip(q.labels, q.choices):
            cr = next(cres)
            g = extract_subgraph(linker.kg, seeds, cr.entity_ids, hops=hops, max_nodes=max_nodes)
            choices.append(
                {
                    "label": label,
                    "text": text,
                    "concepts": _concepts(cr),
                    "subgraph": {
                        "num_nodes": int(g.num_nodes),
                        "num_edges": int(g.edge_index.shape[1]),
                        "num_seeds": int(g.seed_mask.sum()),
                    },
                }
            )
        records.append(
            {
                "id": q.id,
                "answerKey": q.answer_label,
                "question": {
                    "stem": q.question,
                    "concepts": _concepts(qr),
                    **({"reason": qr.reason} if qr.reason else {}),
                },
                "choices": choices,
            }
        )
    return records


def _done_ids(path: Path) -> tuple[set[str], int]:
    """Ids of complete lines in ``path`` and the byte length of those lines (a torn last line is dropped)."""
    ids: set[str] = set()
    good = 0
    if not path.exists():
        return ids, 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                ids.add(str(json.loads(line)["id"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                break
            good += len(line)
    return ids, good


def _check_resume(
    out: Path,
    partial: Path,
    questions: str | Path,
    hops: int,
    max_nodes: int,
    dataset: str,
    linker: EntityLinker,
) -> None:
    """The one resume rule: continue ``out`` only with the settings and inputs it was started with."""
    from kemm.training.resume import Fingerprint, check_resume, checksum, read_fingerprint, write_fingerprint

    kg = linker.kg
    current = Fingerprint(
        {
            "hops": hops,
            "max_nodes": max_nodes,
            "dataset": dataset,
            "kg": {"entities": kg.num_entities, "triples": kg.num_triples},
        },
        {"questions": checksum(questions)},
    )
    stamp = out.with_name(out.name + ".fingerprint.json")
    saved = read_fingerprint(stamp)
    if saved is not None and (out.exists() or partial.exists()):
        check_resume(saved, current, f"the grounding {out}")
    write_fingerprint(stamp, current)


def ground_file(
    linker: EntityLinker,
    questions: str | Path,
    out: str | Path,
    hops: int = 2,
    max_nodes: int = 200,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    dataset: str = "commonsenseqa",
) -> GroundingStats:
    """Ground every question of ``questions`` into ``out`` (JSONL); resumable, atomic on completion.

    ``dataset`` is the :func:`kemm.data.read_dataset` format of ``questions`` (``commonsenseqa``,
    ``openbookqa``); bad records are skipped and listed, with the reader's file:line messages.
    """
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    _check_resume(out, partial, questions, hops, max_nodes, dataset, linker)
    if out.exists() and not partial.exists():
        logger.info("%s is complete; only questions not in it are grounded", out)
        partial.write_bytes(out.read_bytes())
    done, good = _done_ids(partial)
    if partial.exists() and good < partial.stat().st_size:
        with open(partial, "r+b") as f:
            f.truncate(good)  # drop a line torn by an interrupted run
    skipped_path = out.with_name(out.name + ".skipped.tsv")
    stats = GroundingStats(skipped_path=skipped_path)
    stream = read_dataset(dataset, questions, on_error="skip")
    stats.skipped_rows = stream.skipped
    seen = 0
    with open(partial, "a", encoding="utf-8") as sink:

        def flush(batch: list[MultipleChoiceExample]) -> None:
            for rec in ground_batch(linker, batch, hops=hops, max_nodes=max_nodes):
                sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            stats.written += len(batch)

        batch: list[MultipleChoiceExample] = []
        for q in stream:
            seen += 1
            if q.id in done:
                stats.resumed += 1
            else:
                done.add(q.id)
                batch.append(q)
                if len(batch) >= batch_size:
                    flush(batch)
                    batch = []
            if progress is not None and (seen % 64 == 0):
                progress(seen + len(stats.skipped_rows))
        if batch:
            flush(batch)
    if progress is not None:
        progress(seen + len(stats.skipped_rows))
    stats.skipped = len(stats.skipped_rows)
    if stats.skipped:
        stream.write_skipped(skipped_path)
    os.replace(partial, out)
    return stats
