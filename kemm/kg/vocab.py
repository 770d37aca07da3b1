"""Vocabularies of entities and relations: id <-> key, labels, aliases, descriptions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kemm.errors import KemmError

_LOCAL_NAME = re.compile(r"[^/#:]+$")


def local_name(key: str) -> str:
    """Readable fallback label from a key: the IRI's last path segment or fragment, ``_`` as spaces.

    >>> local_name("http://example.org/resource/Hot_dog")
    'Hot dog'
    """
    m = _LOCAL_NAME.search(key.rstrip("/#"))
    name = m.group(0) if m else key
    return name.replace("_", " ")


class _Ids(dict):
    """key -> id map that assigns the next id to an unseen key (``ids[key]`` never raises).

    ``map(ids.__getitem__, keys)`` runs in C for known keys, which is what makes bulk
    ingestion fast; only new keys reach the Python-level ``__missing__``.
    """

    __slots__ = ()

    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


@dataclass
class Vocabulary:
    """An ordered vocabulary (entities or relations).

    Attributes:
        keys: id -> key (an IRI, a ConceptNet term, a WordNet synset id, ...); ids are 0..n-1.
        labels: id -> preferred human-readable label ("" when the source gave none).
        label_langs: id -> language tag of the label ("" when unknown).
        descriptions: id -> description or gloss ("" when none).
        aliases: ``(id, text, lang)`` rows; every other name the source gave the item.
    """

    keys: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    label_langs: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    aliases: list[tuple[int, str, str]] = field(default_factory=list)
    _index: dict[str, int] | None = field(default=None, repr=False, compare=False)
    _by_name: dict[str, list[int]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def index(self) -> dict[str, int]:
        """key -> id (built on first use)."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    def id(self, key: str) -> int:
        """Id of ``key``; raises a :class:`KemmError` naming the key when it is unknown."""
        try:
            return self.index[key]
        except KeyError:
            raise KemmError(f"unknown key {key!r}") from None

    def label(self, i: int) -> str:
        """Label of item ``i``, falling back to a readable form of its key."""
        return self.labels[i] or local_name(self.keys[i])

    def lookup(self, name: str) -> list[int]:
        """Ids whose key, label or alias equals ``name`` (labels and aliases case-insensitively)."""
        if name in self.index:
            return [self.index[name]]
        if self._by_name is None:
            by_name: dict[str, list[int]] = {}
            for i in range(len(self.keys)):
                by_name.setdefault(self.label(i).lower(), []).append(i)
            for i, text, _ in self.aliases:
                ids = by_name.setdefault(text.lower(), [])
                if i not in ids:
                    ids.append(i)
            self._by_name = by_name
        return list(self._by_name.get(name.lower(), []))


class VocabularyBuilder:
    """Accumulates a :class:`Vocabulary` while sources are read.

    Args:
        lang: preferred label language. The first label in that language (or with no language)
            becomes the label; every other label becomes an alias, so nothing is dropped.
    """

    def __init__(self, lang: str | None = "en") -> None:
        self.lang = lang
        self.ids = _Ids()
        self._labels: dict[int, tuple[str, str]] = {}
        self._descriptions: dict[int, tuple[str, str]] = {}
        self._aliases: dict[int, dict[tuple[str, str], None]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def id(self, key: str) -> int:
        """Id of ``key``, assigning a new one for an unseen key."""
        return self.ids[key]

    def _prefers(self, new_lang: str, old_lang: str) -> bool:
        if self.lang is None:
            return False
        rank = {self.lang: 0, "": 1}
        return rank.get(_primary(new_lang), 2) < rank.get(_primary(old_lang), 2)

    def add_label(self, i: int, text: str, lang: str = "") -> None:
        text = text.strip()
        if not text:
            return
        old = self._labels.get(i)
        if old is None:
            self._labels[i] = (text, lang)
        elif old != (text, lang):
            if self._prefers(lang, old[1]):
                self._labels[i] = (text, lang)
                self.add_alias(i, *old)
            else:
                self.add_alias(i, text, lang)

    def add_alias(self, i: int, text: str, lang: str = "") -> None:
        text = text.strip()
        if text:
            self._aliases.setdefault(i, {})[(text, lang)] = None

    def add_description(self, i: int, text: str, lang: str = "") -> None:
        text = text.strip()
        if not text:
            return
        old = self._descriptions.get(i)
        if old is None or self._prefers(lang, old[1]):
            self._descriptions[i] = (text, lang)

    def build(self) -> Vocabulary:
        n = len(self.ids)
        keys = [""] * n
        for k, i in self.ids.items():
            keys[i] = k
        labels = [""] * n
        langs = [""] * n
        for i, (text, lang) in self._labels.items():
            labels[i], langs[i] = text, lang
        descriptions = [""] * n
        for i, (text, _) in self._descriptions.items():
            descriptions[i] = text
        aliases = [
            (i, text, lang)
            for i in sorted(self._aliases)
            for (text, lang) in self._aliases[i]
            if (text, lang) != self._labels.get(i)
        ]
        return Vocabulary(keys, labels, langs, descriptions, aliases)


def _primary(lang: str) -> str:
    return lang.split("-", 1)[0].lower()
