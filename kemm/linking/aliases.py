"""The alias table: every name of every KG entity, its lemma form, and the prior P(entity | alias).

The names of an entity are its label and its aliases (the ones in the configured language or with no
language). Each (name, entity) pair gets a weight: 1 for the label, 0.5 for another alias, or, for
WordNet synsets when the ``index.*`` files are at hand, ``1 / rank`` where ``rank`` is the synset's
position among the senses of that lemma (WordNet lists the most frequent sense first; senses past
``tagsense_cnt`` were never seen in the tagged corpus and get half that). Without index files the
NLTK-style alias ``dog.n.01`` that the WordNet reader writes still gives the rank of the first lemma.
The prior of an entity given a surface form is its weight divided by the sum over the entities that
form names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers.base import ErrorPolicy
from kemm.kg.readers.wordnet import POS_FILES, SYNSET_IRI, find_file, read_index

logger = logging.getLogger(__name__)

#: NLTK synset names the WordNet reader writes as aliases (``dog.n.01``); ranks, not names.
SYNSET_NAME = re.compile(r"^(?P<lemma>.+)\.(?P<pos>[nvasr])\.(?P<rank>\d{2,})$")

#: Factor on WordNet sense weights by part of speech (noun, verb, adjective, adverb).
POS_PRIOR = {"n": 1.0, "v": 0.6, "a": 0.8, "r": 0.6}

LABEL_WEIGHT = 1.0
ALIAS_WEIGHT = 0.5


@dataclass
class Candidates:
    """The entities one surface form names.

    Attributes:
        ids: shape ``(k,)`` int64 entity ids.
        prior: shape ``(k,)`` float32, P(entity | form); sums to 1.
    """

    ids: np.ndarray
    prior: np.ndarray


@dataclass
class AliasTable:
    """Surface forms (lower-cased) -> weighted entity ids.

    Attributes:
        forms: lower-cased name -> {entity id: weight}.
        num_entities: size of the KG the table was built from.
        lang: language of the names kept.
    """

    forms: dict[str, dict[int, float]] = field(default_factory=dict)
    num_entities: int = 0
    lang: str = "en"
    _cache: dict[str, Candidates] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.forms)

    def add(self, form: str, entity: int, weight: float) -> None:
        form = normalize_form(form)
        if not form:
            return
        ids = self.forms.setdefault(form, {})
        ids[entity] = max(ids.get(entity, 0.0), weight)

    def candidates(self, form: str) -> Candidates:
        """Candidates of ``form`` (lower-cased first); empty arrays when it names nothing."""
        form = normalize_form(form)
        c = self._cache.get(form)
        if c is None:
            c = merge_candidates([self.forms.get(form, {})])
            self._cache[form] = c
        return c

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The table as flat arrays (CSR over forms in insertion order), for :mod:`kemm.linking.cache`.

        ``ptr`` has shape ``(F + 1,)``; the entities of form ``i`` are ``ids[ptr[i]:ptr[i + 1]]``
        with weights ``weights[ptr[i]:ptr[i + 1]]`` (float64, exactly as added).
        """
        maps = list(self.forms.values())
        ptr = np.zeros(len(maps) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(m) for m in maps])
        n = int(ptr[-1])
        ids = np.fromiter((e for m in maps for e in m), dtype=np.int64, count=n)
        weights = np.fromiter((w for m in maps for w in m.values()), dtype=np.float64, count=n)
        return {"ptr": ptr, "ids": ids, "weights": weights}

    @classmethod
    def from_arrays(
        cls,
        forms: list[str],
        ptr: np.ndarray,
        ids: np.ndarray,
        weights: np.ndarray,
        num_entities: int,
        lang: str,
    ) -> AliasTable:
        """The inverse of :meth:`to_arrays` (``forms`` in the same order)."""
        table = cls(num_entities=num_entities, lang=lang)
        bounds = ptr.tolist()
        id_list, w_list = ids.tolist(), weights.tolist()
        table.forms = {
            form: dict(zip(id_list[a:b], w_list[a:b])) for form, a, b in zip(forms, bounds, bounds[1:])
        }
        return table

    @classmethod
    def from_kg(
        cls,
        kg: KnowledgeGraph,
        lang: str = "en",
        wordnet_dir: str | Path | None = None,
        min_chars: int = 2,
        sense_rank_exponent: float = 1.0,
    ) -> AliasTable:
        """All labels and aliases of ``kg`` in ``lang`` (or with no language tag).

        ``wordnet_dir`` and ``sense_rank_exponent``: see :func:`wordnet_sense_ranks`.
        """
        table = cls(num_entities=kg.num_entities, lang=lang)
        ranks = wordnet_sense_ranks(wordnet_dir, sense_rank_exponent) if wordnet_dir is not None else {}
        ents = kg.entities
        nltk_rank: dict[int, int] = {}
        alias_rows: list[tuple[int, str]] = []
        for i, text, alang in ents.aliases:
            m = SYNSET_NAME.match(text)
            if m is not None:
                nltk_rank[i] = int(m.group("rank"))
                continue
            if alang and alang.split("-")[0].lower() != lang:
                continue
            alias_rows.append((i, text))
        langs = ents.label_langs
        for i in range(len(ents)):
            if langs and langs[i] and langs[i].split("-")[0].lower() != lang:
                continue
            if not ents.labels[i] and "://" in ents.keys[i]:
                continue  # an IRI's local name ("02084071-n") is no name people write
            label = ents.label(i)
            if len(label) < min_chars:
                continue
            table.add(label, i, _weight(ranks, nltk_rank.get(i), ents.keys[i], label, LABEL_WEIGHT))
        for i, text in alias_rows:
            if len(text) >= min_chars:
                table.add(text, i, _weight(ranks, None, ents.keys[i], text, ALIAS_WEIGHT))
        logger.info("alias table: %d surface forms for %d entities", len(table), kg.num_entities)
        return table


def _weight(
    ranks: dict[tuple[str, str], float], nltk_rank: int | None, key: str, name: str, default: float
) -> float:
    if ranks:
        w = ranks.get((normalize_form(name), key))
        if w is not None:
            return w
    if nltk_rank is not None:
        return 1.0 / nltk_rank
    return default


def normalize_form(text: str) -> str:
    """Lower-case, ``_`` as space, whitespace collapsed: the key of a surface form."""
    return " ".join(text.replace("_", " ").lower().split())


def merge_candidates(weights: Iterable[dict[int, float]]) -> Candidates:
    """Candidates from one or more ``{entity: weight}`` maps (the larger weight wins), normalised."""
    merged: dict[int, float] = {}
    for w in weights:
        for e, x in w.items():
            merged[e] = max(merged.get(e, 0.0), x)
    if not merged:
        return Candidates(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    ids = np.fromiter(merged.keys(), dtype=np.int64, count=len(merged))
    p = np.fromiter(merged.values(), dtype=np.float32, count=len(merged))
    order = np.argsort(-p, kind="stable")
    return Candidates(ids[order], (p / p.sum())[order])


def wordnet_sense_ranks(directory: str | Path, exponent: float = 1.0) -> dict[tuple[str, str], float]:
    """(lemma, synset key) -> prior weight from the sense order of WordNet's ``index.*`` files.

    The files are parsed by the WordNet KG reader (:func:`kemm.kg.readers.wordnet.read_index`);
    offsets come most frequent sense first. The weight is ``1 / rank``, halved for senses past
    ``tagsense_cnt`` (never seen in the sense-tagged corpus), and multiplied by :data:`POS_PRIOR`:
    without a part-of-speech tagger a bare word in a question is more often a noun. The product is
    raised to ``exponent``: below 1 the order of the senses still counts, but the first sense no
    longer outweighs the context (the linker's ``sense_rank_exponent``, 0.25). Malformed index lines
    are skipped (and logged).
    """
    directory = Path(directory)
    out: dict[tuple[str, str], float] = {}
    errors = ErrorPolicy(on_error="skip")
    for suffix, pos in POS_FILES:
        path = find_file(directory, f"index.{suffix}")
        if path is None:
            continue
        for lemma, (offsets, tagged) in read_index(path, errors).items():
            form = normalize_form(lemma)
            for rank, off in enumerate(offsets, start=1):
                w = (1.0 if rank <= tagged else 0.5) / rank * POS_PRIOR[pos]
                out[(form, f"{SYNSET_IRI}{off}-{pos}")] = w**exponent
    if errors.skipped:
        logger.warning("WordNet sense ranks: %d malformed index lines skipped", len(errors.skipped))
    logger.info("WordNet sense ranks: %d (lemma, synset) pairs from %s", len(out), directory)
    return out
