"""Sense cues: the part of speech the words around a mention call for, and that of each entity.

A blank spaCy pipeline has no tagger, yet two cues are nearly free and settle most noun/verb
ambiguities: a word right after a determiner ("the dogs", "a bank") or carrying a plural ``-s``
("bananas": the lemma is the word without it) is a noun; a word right after a subject pronoun
("she peeled") is a verb. A trained pipeline's tags are used when it has them. Entities carry a
part of speech when the KG states one: the WordNet reader writes ``wn:pos`` (``n v a s r``, ``s``
read as ``a``) for every synset; other KGs have none, and their candidates are never penalised.

The context encoder compares the text with each candidate's :func:`sense_text`. For a WordNet synset
that is its lexicographer domain, its lemmas and its gloss (``"food: banana: elongated
crescent-shaped yellow fruit ..."`` against ``"plant: banana, banana tree: any of several tropical
and subtropical treelike herbs ..."``), so that the senses of one word differ in more than the
gloss; an entity without a domain is ``"label: description"``.
"""

from __future__ import annotations

import numpy as np
from spacy.tokens import Doc

from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers.wordnet import LEXNAME_PREDICATE, POS_PREDICATE

#: Words after which a noun (or its adjectives) follows.
DETERMINERS = frozenset(
    "a an the this that these those my your his her its our their some any no every each another "
    "either neither several many few both".split()
)

#: Words after which a verb follows ("she peeled", "they swim").
SUBJECT_PRONOUNS = frozenset("i you he she we they".split())

#: Universal POS tags of a trained pipeline -> WordNet letters.
UPOS = {"NOUN": "n", "PROPN": "n", "VERB": "v", "AUX": "v", "ADJ": "a", "ADV": "r"}


def is_plural(word: str, lemma: str) -> bool:
    """Whether ``word`` is ``lemma`` with a plural ending (``bananas``, ``knives``, ``cherries``)."""
    if word == lemma:
        return False
    if word in (lemma + "s", lemma + "es"):
        return True
    return (word.endswith("ies") and lemma.endswith("y")) or (
        word.endswith("ves") and lemma.endswith(("f", "fe"))
    )


def pos_cue(doc: Doc, start: int, end: int) -> str | None:
    """The part of speech (``n`` or ``v``) the context calls for at ``doc[start:end]``, or None."""
    head = doc[end - 1]
    if head.pos_ and head.pos_ in UPOS:  # a trained tagger knows better than the cues
        return UPOS[head.pos_]
    prev = doc[start - 1].lower_ if start > 0 else ""
    if prev in DETERMINERS:
        return "n"
    if prev in SUBJECT_PRONOUNS:
        return "v"
    if is_plural(head.lower_, head.norm_):
        return "n"
    return None


def entity_pos(kg: KnowledgeGraph) -> np.ndarray:
    """shape: (num_entities,) the part of speech of each entity (``n v a r``), ``""`` when unknown."""
    out = np.full(kg.num_entities, "", dtype="<U1")
    attrs = kg.attributes
    for e, p, v in zip(attrs.entity, attrs.predicate, attrs.value):
        if p == POS_PREDICATE and v:
            out[e] = "a" if v == "s" else v[0]
    return out


def entity_domains(kg: KnowledgeGraph) -> list[str]:
    """The lexicographer domain of each entity (``wn:lexname`` ``noun.food`` -> ``food``), ``""`` if none."""
    out = [""] * kg.num_entities
    attrs = kg.attributes
    for e, p, v in zip(attrs.entity, attrs.predicate, attrs.value):
        if p == LEXNAME_PREDICATE and v:
            out[e] = v.rsplit(".", 1)[-1]
    return out


def sense_text(label: str, description: str, domain: str = "", synonyms: list[str] | None = None) -> str:
    """What the context is compared with: ``"domain: label, synonyms: description"`` (parts may be empty)."""
    names = ", ".join([label, *(synonyms or [])]) if domain else label
    text = f"{names}: {description}" if description else names
    return f"{domain}: {text}" if domain else text
