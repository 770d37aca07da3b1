"""Commonsense multiple-choice questions (CommonsenseQA format) and cloze probes (LAMA format).

Distractors follow the construction of CommonsenseQA (Talmor et al., 2019), which took answer
candidates from ConceptNet concepts sharing the question's relation: here they are concepts that
are the target of the same relation for *other* subjects, never a true answer for the question's
``(subject, relation)`` and never a concept that shares a name with a true answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.templates import TEMPLATES, fill
from kemm.data.benchmark.vqa import KeyFilter


@dataclass(frozen=True)
class MCQuestion:
    """One multiple-choice question.

    Attributes:
        id: 32-hex id (CommonsenseQA's ids have that shape), a hash of its content.
        stem: the question text.
        subject, relation, answer: the KG fact asked about (keys and relation name).
        choices: choice entity keys in presentation order (the answer among them).
        answer_index: position of ``answer`` in ``choices``.
    """

    id: str
    stem: str
    subject: str
    relation: str
    answer: str
    choices: tuple[str, ...]
    answer_index: int


@dataclass(frozen=True)
class ClozeProbe:
    """One LAMA probe: a sentence with ``[MASK]`` for the object of a KG fact.

    Attributes:
        uuid: 32-hex id, a hash of its content.
        subject, relation, object: the fact (keys and relation name).
        sentence: the masked sentence.
    """

    uuid: str
    subject: str
    relation: str
    object: str
    sentence: str


def _hex_id(*parts: object) -> str:
    return hashlib.md5("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def make_mc_questions(
    knowledge: BenchmarkKnowledge,
    split: str,
    subject_allowed: KeyFilter,
    mention_allowed: KeyFilter,
    rng: np.random.Generator,
    num_choices: int = 5,
    seed: int = 0,
) -> tuple[list[MCQuestion], int]:
    """One question per askable ``(subject, relation)`` of ``split``; returns ``(questions, skipped)``.

    ``skipped`` counts pairs with fewer than ``num_choices - 1`` valid distractors.
    """
    targets = knowledge.targets_by_relation()
    questions: list[MCQuestion] = []
    skipped = 0
    for (s, r), objs in knowledge.facts.items():
        if r not in TEMPLATES or not subject_allowed(s):
            continue
        valid = [o for o in objs if mention_allowed(o)]
        if not valid:
            continue
        answer = valid[int(rng.integers(len(valid)))]
        true_names = {n for o in objs for n in knowledge.names[o]}
        pool = [
            t
            for t in targets[r]
            if t not in objs and t != s and mention_allowed(t) and true_names.isdisjoint(knowledge.names[t])
        ]
        if len(pool) < num_choices - 1:
            skipped += 1
            continue
        distractors = [pool[i] for i in rng.choice(len(pool), num_choices - 1, replace=False)]
        choices = [answer, *distractors]
        perm = rng.permutation(num_choices).tolist()
        choices = [choices[i] for i in perm]
        stem = fill(TEMPLATES[r].mc, label=knowledge.label(s))
        questions.append(
            MCQuestion(
                _hex_id("csqa", seed, split, s, r, answer), stem, s, r, answer, tuple(choices), perm.index(0)
            )
        )
    return questions, skipped


def make_cloze_probes(
    knowledge: BenchmarkKnowledge,
    split: str,
    subject_allowed: KeyFilter,
    mention_allowed: KeyFilter,
    seed: int = 0,
) -> list[ClozeProbe]:
    """One probe per askable fact ``(subject, relation, object)`` of ``split``."""
    out = []
    for s, r, o in knowledge.triples():
        if r not in TEMPLATES or not subject_allowed(s) or not mention_allowed(o):
            continue
        sentence = fill(TEMPLATES[r].cloze, label=knowledge.label(s))
        out.append(ClozeProbe(_hex_id("lama", seed, split, s, r, o), s, r, o, sentence))
    return out
