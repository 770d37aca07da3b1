"""Knowledge VQA: questions about a pictured object whose answer is a KG fact that is not visible.

The object is referred to by where it is ("the object on the left"), how it looks ("the red
object"), how big it is, or what it stands next to ("the thing next to the apple") -- never by its
own name, so the model must recognise it and then know the fact. Answers follow OK-VQA: ten
annotator answers per question, made of the true objects' labels and aliases so that the standard
soft accuracy ``min(1, #matching answers / 3)`` credits every acceptable variant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.scene import Scene
from kemm.data.benchmark.templates import COLOUR_WORDS, TEMPLATES
from kemm.evaluation.metrics import normalize_vqa_answer

#: ``key -> bool``: whether a question of the split being built may use (ask about, name) an entity.
KeyFilter = Callable[[str], bool]

#: Most true objects a VQA question may have: with 10 answers, two labels get 4 votes (full credit) and
#: a third 3 (0.9); more objects would leave some true answer with little credit.
MAX_VQA_OBJECTS = 3
#: Votes an answer needs for full credit under the leave-one-annotator-out VQA accuracy.
FULL_CREDIT_VOTES = 4


@dataclass(frozen=True)
class VQAQuestion:
    """One generated question.

    Attributes:
        question: the question text.
        subject: KG key of the object asked about.
        relation: relation name (the OK-VQA ``question_type``).
        objects: KG keys of every true answer entity for ``(subject, relation)``.
        answers: ``(raw_answer, answer)`` pairs, ``num_answers`` of them, most votes first.
        referring: how the object is referred to (position, size, colour, name, single).
        object_index: index of the subject in the scene's object list.
        mentions: KG keys named in the question text (besides the subject, which is never named).
    """

    question: str
    subject: str
    relation: str
    objects: tuple[str, ...]
    answers: tuple[tuple[str, str], ...]
    referring: str
    object_index: int
    mentions: tuple[str, ...] = ()


def referring_expressions(
    scene: Scene, index: int, knowledge: BenchmarkKnowledge, may_name: KeyFilter, image_size: int
) -> list[tuple[str, str, tuple[str, ...]]]:
    """Unambiguous ways to refer to object ``index``: ``(kind, text, named keys)`` triples.

    Args:
        may_name: ``key -> bool``, whether another object may be named ("next to the X").
    """
    objs = scene.objects
    me = objs[index]
    others = [o for j, o in enumerate(objs) if j != index]
    out: list[tuple[str, str, tuple[str, ...]]] = []
    if not others:
        out += [
            ("single", t, ()) for t in ("this object", "the object in the picture", "the thing shown here")
        ]
        return out
    margin = 0.15 * image_size
    cx, cy = me.center
    if all(cx + margin <= o.center[0] for o in others):
        out += [
            ("position", t, ())
            for t in ("the object on the left", "the leftmost object", "the thing on the left")
        ]
    if all(cx - margin >= o.center[0] for o in others):
        out += [
            ("position", t, ())
            for t in ("the object on the right", "the rightmost object", "the thing on the right")
        ]
    if all(cy + margin <= o.center[1] for o in others):
        out += [("position", t, ()) for t in ("the object at the top", "the topmost object")]
    if all(cy - margin >= o.center[1] for o in others):
        out += [("position", t, ()) for t in ("the object at the bottom", "the lowest object")]
    if all(me.area >= 1.6 * o.area for o in others):
        out += [("size", "the biggest object", ()), ("size", "the largest thing in the picture", ())]
    if all(1.6 * me.area <= o.area for o in others):
        out += [("size", "the smallest object", ())]
    if me.colour is not None and all(o.colour != me.colour for o in others):
        out += [("colour", f"the {me.colour} object", ()), ("colour", f"the {me.colour} thing", ())]
    if len(others) == 1 and may_name(others[0].key):
        other = others[0]
        label = knowledge.label(other.key)
        out += [
            ("name", f"the thing next to the {label}", (other.key,)),
            ("name", f"the object beside the {label}", (other.key,)),
        ]
    return out


def vqa_relations(knowledge: BenchmarkKnowledge, subject: str) -> list[str]:
    """Relations of ``subject`` the VQA task can ask about (a template, 1-3 objects, none a colour)."""
    out = []
    for r in knowledge.relations_of(subject):
        t = TEMPLATES.get(r)
        objs = knowledge.objects_of(subject, r)
        if t is None or t.vqa is None or not 1 <= len(objs) <= MAX_VQA_OBJECTS:
            continue
        if r == "HasProperty" and any(n in COLOUR_WORDS for o in objs for n in knowledge.names[o]):
            continue  # a colour is visible: it would not test knowledge
        out.append(r)
    return out


def answer_votes(
    knowledge: BenchmarkKnowledge, objects: tuple[str, ...], num_answers: int = 10
) -> list[tuple[str, str]]:
    """``num_answers`` annotator answers ``(raw_answer, answer)`` for the true ``objects``.

    Under the official VQA metric (leave one annotator out, ``min(1, matches / 3)``, averaged) an
    answer needs 4 of 10 votes for full credit (3 votes give 0.9). So each object's label gets up
    to 4 votes first; votes left once every label has 4 go to the aliases (4 each while they last)
    and then round-robin over all variants. One object with one alias: 5 + 5 votes; two objects:
    4 + 4 and 2 for an alias; three objects: 4 + 3 + 3.

    ``answer`` is normalised as the official evaluation normalises predictions
    (:func:`~kemm.evaluation.metrics.normalize_vqa_answer`, ``"cold-blooded"`` -> ``"cold blooded"``),
    as VQA's annotation files are: the metric leaves unanimous human answers as they are, so an
    unnormalised one could never be matched.
    """
    labels: list[tuple[str, str]] = []
    aliases: list[tuple[str, str]] = []
    seen: set[str] = set()
    for o in objects:
        raw = knowledge.label(o)
        answer = normalize_vqa_answer(raw)
        if answer not in seen:
            seen.add(answer)
            labels.append((raw, answer))
    longest = max(len(knowledge.names[o]) for o in objects)
    for k in range(1, longest):  # aliases, interleaved across objects
        for o in objects:
            names = knowledge.names[o]
            answer = normalize_vqa_answer(names[k]) if k < len(names) else ""
            if answer and answer not in seen:
                seen.add(answer)
                aliases.append((names[k], answer))
    base = min(FULL_CREDIT_VOTES, num_answers // len(labels))
    counts = [base] * len(labels)
    left = num_answers - base * len(labels)
    for i in range(left if base < FULL_CREDIT_VOTES else 0):  # too many objects for 4 votes each
        counts[i % len(labels)] += 1
        left -= 1
    variants = labels + aliases
    counts += [0] * len(aliases)
    for i in range(len(labels), len(variants)):
        take = min(FULL_CREDIT_VOTES, left)
        counts[i] += take
        left -= take
    i = 0
    while left > 0:
        counts[i % len(variants)] += 1
        left -= 1
        i += 1
    return [v for v, c in zip(variants, counts) for _ in range(c)]


def make_questions(
    rng: np.random.Generator,
    scene: Scene,
    knowledge: BenchmarkKnowledge,
    subject_allowed: KeyFilter,
    mention_allowed: KeyFilter,
    max_questions: int,
    image_size: int,
    num_answers: int = 10,
    rarity: dict[tuple[str, str], float] | None = None,
) -> list[VQAQuestion]:
    """Up to ``max_questions`` knowledge questions about the objects of ``scene``.

    Args:
        subject_allowed: ``key -> bool``, whether this split may ask about ``key``.
        mention_allowed: ``key -> bool``, whether this split may name ``key`` (answers included).
        rarity: ``(relation, object) -> weight`` (see :func:`answer_rarity`); a question is drawn with
            the weight of its rarest true answer, so that common answers ("metal") do not dominate a
            question type and answering from the type alone stays near chance. ``None``: uniform.
    """
    candidates: list[tuple[int, str]] = []
    for i, obj in enumerate(scene.objects):
        if not subject_allowed(obj.key):
            continue
        for r in vqa_relations(knowledge, obj.key):
            if all(mention_allowed(o) for o in knowledge.objects_of(obj.key, r)):
                candidates.append((i, r))
    # weighted random order (Efraimidis-Spirakis keys u^(1/w)), but one question per object before a
    # second question about any object
    weights = np.ones(len(candidates))
    if rarity is not None:
        for c, (i, r) in enumerate(candidates):
            weights[c] = max(rarity.get((r, o), 1.0) for o in knowledge.objects_of(scene.objects[i].key, r))
    order = np.argsort(-(rng.random(len(candidates)) ** (1.0 / weights)), kind="stable")
    first: list[int] = []
    rest: list[int] = []
    seen: set[int] = set()
    for c in order.tolist():
        (rest if candidates[c][0] in seen else first).append(c)
        seen.add(candidates[c][0])
    out: list[VQAQuestion] = []
    for c in first + rest:
        if len(out) >= max_questions:
            break
        i, r = candidates[c]
        if any(q.object_index == i and q.relation == r for q in out):
            continue
        refs = referring_expressions(scene, i, knowledge, mention_allowed, image_size)
        if not refs:
            continue
        kind, ref, named = refs[int(rng.integers(len(refs)))]
        subject = scene.objects[i].key
        objs = knowledge.objects_of(subject, r)
        text = TEMPLATES[r].vqa.format(ref=ref)  # type: ignore[union-attr]
        out.append(
            VQAQuestion(
                text, subject, r, objs, tuple(answer_votes(knowledge, objs, num_answers)), kind, i, named
            )
        )
    return out


def answer_rarity(knowledge: BenchmarkKnowledge, subjects: list[str]) -> dict[tuple[str, str], float]:
    """``(relation, object) -> 1 / (number of subjects whose VQA questions have that answer)``."""
    counts: dict[tuple[str, str], int] = {}
    for s in subjects:
        for r in vqa_relations(knowledge, s):
            for o in knowledge.objects_of(s, r):
                counts[(r, o)] = counts.get((r, o), 0) + 1
    return {k: 1.0 / v for k, v in counts.items()}
