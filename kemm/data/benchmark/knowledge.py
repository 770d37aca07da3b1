"""What the benchmark needs from the KG: picturable objects, facts by (subject, relation), names.

Everything is keyed and sorted by entity *key* (IRI), never by entity id, so the benchmark does not
depend on the order in which a reader happened to assign ids.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from kemm.errors import KemmError
from kemm.kg.graph import KnowledgeGraph

logger = logging.getLogger(__name__)

#: Attribute predicate holding an entity's emoji (its picture).
EMOJI_PREDICATE = "https://w3id.org/kemm/commonsense/emoji"
#: Namespace of the ConceptNet-style relations; triples with other predicates (skos:exactMatch, ...)
#: are not commonsense facts.
RELATION_NAMESPACE = "https://w3id.org/kemm/relation/"

_SPACE = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """Lower-case, single-spaced form used for answers and name comparisons."""
    return _SPACE.sub(" ", text.strip().lower())


@dataclass
class BenchmarkKnowledge:
    """Facts and names read off a :class:`KnowledgeGraph`.

    Attributes:
        objects: keys of the picturable entities (those with an emoji), sorted.
        emoji: picturable entity key -> emoji string.
        labels: entity key -> preferred label.
        names: entity key -> acceptable names (normalized label first, then aliases), deduplicated.
        facts: ``(subject key, relation name)`` -> sorted tuple of object keys; relation names are
            the local names of relations in :data:`RELATION_NAMESPACE` (``"UsedFor"``).
        relation_labels: relation name -> its label in the KG (or the name).
    """

    objects: list[str]
    emoji: dict[str, str]
    labels: dict[str, str]
    names: dict[str, list[str]]
    facts: dict[tuple[str, str], tuple[str, ...]]
    relation_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, relation_namespace: str = RELATION_NAMESPACE) -> BenchmarkKnowledge:
        keys = kg.entities.keys
        emoji: dict[str, str] = {}
        for e, p, v, _, _ in kg.attributes.rows():
            if p == EMOJI_PREDICATE and v.strip():
                k = keys[e]
                if k in emoji and emoji[k] != v.strip():
                    raise KemmError(f"entity {k} has two emoji: {emoji[k]!r} and {v.strip()!r}")
                emoji[k] = v.strip()
        by_emoji: dict[str, list[str]] = defaultdict(list)
        for k, e in emoji.items():
            by_emoji[e].append(k)
        shared = {e: sorted(ks) for e, ks in by_emoji.items() if len(ks) > 1}
        for e, ks in sorted(shared.items()):
            # one picture for two concepts: a model could not tell which one it shows
            logger.warning("entities %s share the emoji %s; none of them is pictured", ", ".join(ks), e)
            for k in ks:
                del emoji[k]
        if not emoji:
            raise KemmError(
                f"the KG has no picturable objects: no entity carries an emoji attribute <{EMOJI_PREDICATE}>"
            )
        rel_name: dict[int, str] = {}
        relation_labels: dict[str, str] = {}
        for i, rk in enumerate(kg.relations.keys):
            if rk.startswith(relation_namespace):
                name = rk[len(relation_namespace) :]
                rel_name[i] = name
                relation_labels[name] = kg.relations.labels[i] or name
        facts: dict[tuple[str, str], set[str]] = defaultdict(set)
        used: set[int] = set()
        for h, r, t in kg.triples.tolist():
            rname = rel_name.get(r)
            if rname is None or h == t:
                continue
            facts[(keys[h], rname)].add(keys[t])
            used.update((h, t))
        used.update(kg.entities.index[k] for k in emoji)
        labels: dict[str, str] = {}
        names: dict[str, list[str]] = {}
        for i in sorted(used, key=keys.__getitem__):
            labels[keys[i]] = kg.entities.label(i)
        alias_rows: dict[int, list[str]] = defaultdict(list)
        for i, text, lang in kg.entities.aliases:
            if i in used and (lang in ("", "en") or lang.startswith("en-")):
                alias_rows[i].append(text)
        for i in sorted(used, key=keys.__getitem__):
            seen: dict[str, None] = {normalize_answer(kg.entities.label(i)): None}
            for text in sorted(alias_rows.get(i, [])):  # sorted: independent of the reader's order
                seen.setdefault(normalize_answer(text), None)
            names[keys[i]] = [n for n in seen if n]
        logger.info(
            "benchmark knowledge: %d picturable objects, %d (subject, relation) facts over %d relations",
            len(emoji),
            len(facts),
            len(relation_labels),
        )
        return cls(
            objects=sorted(emoji),
            emoji=emoji,
            labels=labels,
            names=names,
            facts={k: tuple(sorted(v)) for k, v in sorted(facts.items())},
            relation_labels=dict(sorted(relation_labels.items())),
        )

    # -- queries --------------------------------------------------------------------------------------
    def label(self, key: str) -> str:
        return self.labels[key]

    def objects_of(self, subject: str, relation: str) -> tuple[str, ...]:
        """True objects of ``(subject, relation)`` (empty tuple when none)."""
        return self.facts.get((subject, relation), ())

    def triples(self) -> list[tuple[str, str, str]]:
        """All ``(subject, relation, object)`` facts, sorted."""
        return [(s, r, o) for (s, r), objs in self.facts.items() for o in objs]

    def relations_of(self, subject: str) -> list[str]:
        """Relations with at least one fact about ``subject``, sorted."""
        return self._relations_by_subject.get(subject, [])

    @cached_property
    def _relations_by_subject(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for s, r in self.facts:  # facts are sorted by (subject, relation)
            out[s].append(r)
        return dict(out)

    def targets_by_relation(self) -> dict[str, list[str]]:
        """relation -> sorted keys of every entity that is the object of that relation for some subject."""
        out: dict[str, set[str]] = defaultdict(set)
        for (_, r), objs in self.facts.items():
            out[r].update(objs)
        return {r: sorted(v) for r, v in sorted(out.items())}
