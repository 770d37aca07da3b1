"""``lama``: factual cloze probes (LAMA format), P@1, P@10 and MRR over words and over KG entities.

Two candidate spaces, reported side by side:

* **words** -- the LAMA protocol (Petroni et al., 2019): candidates are the words of a common
  vocabulary (the benchmark's ``lama/vocab.txt``) that are a single token for the model's
  tokenizer, and only probes whose object is such a word are scored. **Multi-token objects**
  (``"hot dog"``, or any object the tokenizer splits) and objects outside the vocabulary are not
  scored in this space, exactly as LAMA drops them; they are counted
  (``counts["multi_token_objects"]``, ``counts["objects_outside_vocabulary"]``), never scored as
  wrong, and they are scored in the entity space.
* **entities** -- candidates are KG entities; every probe whose object is a KG entity is scored,
  whatever its number of tokens (``entity_p_at_1``, ``entity_p_at_10``, ``entity_mrr``).

Ranks are realistic ranks (:func:`kemm.evaluation.metrics.realistic_rank`: a tie with the gold
answer is not a win), P@k is :func:`~kemm.evaluation.metrics.precision_at_k`, MRR
:func:`~kemm.evaluation.metrics.mrr`. As in LAMA, other true objects of a one-to-many relation
are not filtered. The scores come from a model's :class:`~kemm.models.heads.ClozeHead` (zero-shot
from a pre-trained checkpoint or after fine-tuning) or from :func:`train_prior_scores`, the baseline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from kemm.data import ClozeExample
from kemm.errors import InputError, KemmError
from kemm.evaluation.datasets import example_id
from kemm.evaluation.facts import Fact
from kemm.evaluation.metrics import mrr, precision_at_k, realistic_rank
from kemm.evaluation.tasks.base import EVAL_TASKS, EvalTask, Prediction, TaskResult, breakdown
from kemm.evaluation.tasks.multiple_choice import entity_groups

TOP_K = 10


@EVAL_TASKS.register("lama", aliases=("cloze", "lama-zero-shot"))
class LamaTask(EvalTask):
    """LAMA-format cloze probes; P@1 over the single-token common vocabulary is the headline."""

    formats = ("lama",)
    metric = "p_at_1"


def read_vocabulary(path: str | Path) -> list[str]:
    """The common vocabulary, one word a line (blank lines ignored; repeats an error)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such vocabulary file", path)
    words = [w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()]
    if len(set(words)) != len(words):
        dup = next(w for w, c in Counter(words).items() if c > 1)
        raise InputError(f"{dup!r} is listed twice", path)
    if not words:
        raise InputError("the vocabulary is empty", path)
    return words


@dataclass
class WordProtocol:
    """The LAMA word-space protocol applied to a dataset.

    Attributes:
        candidates: the single-token words of the common vocabulary, in vocabulary order.
        scored: ids of the probes scored in the word space.
        multi_token: ids of probes whose object is more than one token.
        outside_vocabulary: ids of probes whose (single-token) object is not in the vocabulary.
    """

    candidates: list[str]
    scored: list[str]
    multi_token: list[str]
    outside_vocabulary: list[str]


def word_protocol(
    examples: Sequence[ClozeExample], vocabulary: Sequence[str], tokenize: Callable[[str], list] = str.split
) -> WordProtocol:
    """Which probes the word space scores: ``tokenize`` is the model tokenizer's (default: words)."""
    candidates = [w for w in vocabulary if len(tokenize(w)) == 1]
    if not candidates:
        raise KemmError("no word of the vocabulary is a single token for this tokenizer")
    known = set(candidates)
    scored, multi, outside = [], [], []
    for ex in examples:
        i = example_id(ex)
        if len(tokenize(ex.answer)) != 1:
            multi.append(i)
        elif ex.answer not in known:
            outside.append(i)
        else:
            scored.append(i)
    return WordProtocol(candidates, scored, multi, outside)


@dataclass
class ClozeScores:
    """A model's scores for the probes ``ids`` over ``candidates``: ``scores`` shape ``(len(ids), len(candidates))``,
    higher is better; ``gold[k]`` the column of the true object of probe ``ids[k]``."""

    ids: list[str]
    candidates: list[str]
    scores: torch.Tensor
    gold: list[int]

    def __post_init__(self) -> None:
        if tuple(self.scores.shape) != (len(self.ids), len(self.candidates)) or len(self.gold) != len(
            self.ids
        ):
            raise KemmError(
                f"cloze scores of shape {tuple(self.scores.shape)} for {len(self.ids)} probes, "
                f"{len(self.candidates)} candidates and {len(self.gold)} gold columns"
            )


def gold_columns(ids: Sequence[str], objects: Mapping[str, str], candidates: Sequence[str]) -> list[int]:
    """The candidate column of each probe's object; KemmError naming the probes whose object is not a candidate."""
    index = {c: k for k, c in enumerate(candidates)}
    missing = [i for i in ids if objects[i] not in index]
    if missing:
        raise KemmError(
            f"{len(missing)} of {len(ids)} probes have an object that is not a candidate "
            f"(e.g. {missing[0]}: {objects[missing[0]]!r}); a dataset and a KG/vocabulary that do not belong together?"
        )
    return [index[objects[i]] for i in ids]


def train_prior_scores(
    train_relations: Sequence[str | None],
    train_objects: Sequence[str],
    relations: Sequence[str | None],
    candidates: Sequence[str],
) -> torch.Tensor:
    """The train-prior baseline: a probe's score for a candidate is how often it was the object of a
    training probe of the same relation. Shape ``(len(relations), len(candidates))``."""
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for r, o in zip(train_relations, train_objects):
        counts[r][o] += 1
    if not counts:
        raise KemmError("no training probes to estimate the object prior from")
    rows = [[float(counts[r].get(c, 0)) for c in candidates] for r in relations]
    return torch.tensor(rows, dtype=torch.float64).reshape(len(relations), len(candidates))


def _space_metrics(prefix: str) -> Callable[[Sequence[Prediction]], dict[str, float]]:
    def metrics(preds: Sequence[Prediction]) -> dict[str, float]:
        ranks = [p.extra[f"{prefix}rank"] for p in preds if p.extra.get(f"{prefix}rank") is not None]
        if not ranks:
            return {}
        return {
            f"{prefix}p_at_1": precision_at_k(ranks, 1),
            f"{prefix}p_at_10": precision_at_k(ranks, TOP_K),
            f"{prefix}mrr": mrr(ranks),
        }

    return metrics


def _both(preds: Sequence[Prediction]) -> dict[str, float]:
    return {**_space_metrics("")(preds), **_space_metrics("entity_")(preds)}


def score_cloze(
    task: str,
    examples: Sequence[ClozeExample],
    words: ClozeScores | None,
    entities: ClozeScores | None = None,
    protocol: WordProtocol | None = None,
    facts: Mapping[str, Fact] | None = None,
    heldout: set[str] | None = None,
    setting: str = "fact-in-kg",
) -> tuple[TaskResult, list[Prediction]]:
    """P@1, P@10 and MRR of the word-space and entity-space scores; one prediction line per probe.

    Args:
        words: scores over the single-token vocabulary for the probes ``protocol.scored``.
        entities: scores over KG entities (None: no entity space).
        protocol: :func:`word_protocol`'s result; its counts are stated in the result.
        facts, heldout: per-relation (by the fact's relation, else the probe's) and seen/held-out breakdowns.

    Raises:
        KemmError: no probes; neither space given; scored ids that are not probes of the dataset.
    """
    if not examples:
        raise KemmError(f"{task}: no probes to evaluate")
    if words is None and entities is None:
        raise KemmError(f"{task}: neither word nor entity scores to evaluate")
    by_id = {example_id(ex): ex for ex in examples}
    rank_of: dict[str, dict[str, tuple[float, list[str]]]] = {"": {}, "entity_": {}}
    for prefix, space in (("", words), ("entity_", entities)):
        if space is None or not space.ids:
            continue
        unknown = [i for i in space.ids if i not in by_id]
        if unknown:
            raise KemmError(
                f"{task}: {len(unknown)} scored ids are not probes of the dataset, e.g. {unknown[0]}"
            )
        ranks = realistic_rank(space.scores, torch.tensor(space.gold, dtype=torch.long))  # (n,)
        top = space.scores.topk(min(TOP_K, space.scores.shape[1]), dim=1).indices  # (n, k)
        for k, i in enumerate(space.ids):
            rank_of[prefix][i] = (float(ranks[k]), [space.candidates[c] for c in top[k].tolist()])
    predictions = []
    for i, ex in by_id.items():
        w, e = rank_of[""].get(i), rank_of["entity_"].get(i)
        fact = (facts or {}).get(i)
        extra = {
            "relation": fact.relation if fact is not None else ex.relation,
            "rank": w[0] if w else None,
            "top10": w[1] if w else None,
            "entity_prediction": e[1][0] if e else None,
            "entity_gold": fact.objects[0] if fact is not None else None,
            "entity_rank": e[0] if e else None,
            "entity_top10": e[1] if e else None,
        }
        primary = w or e
        predictions.append(
            Prediction(
                i,
                primary[1][0] if primary else None,
                ex.answer,
                bool(primary is not None and primary[0] == 1),
                [fact.subject] if fact is not None else [],
                extra,
            )
        )
    metrics = _both(predictions)
    if not metrics:
        raise KemmError(f"{task}: no probe was scored in either space")
    counts = {
        "examples": len(examples),
        "scored_words": len(rank_of[""]),
        "scored_entities": len(rank_of["entity_"]),
    }
    if protocol is not None:
        counts.update(
            {
                "multi_token_objects": len(protocol.multi_token),
                "objects_outside_vocabulary": len(protocol.outside_vocabulary),
                "word_candidates": len(protocol.candidates),
            }
        )
    relation_of = {p.id: p.extra["relation"] for p in predictions}
    groups = (
        breakdown(predictions, entity_groups(facts, heldout), _both) if facts and heldout is not None else {}
    )
    result = TaskResult(
        task=task,
        metrics=metrics,
        counts=counts,
        per_relation=breakdown(predictions, relation_of, _both),
        groups=groups,
        setting=setting,
    )
    return result, predictions
