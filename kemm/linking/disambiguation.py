"""Disambiguation: pick one entity per mention, or none (NIL).

The score of candidate ``e`` of a mention is::

    prior_weight * P(e | form) * sim(e)  +  context_weight * ctx(e)  +  coherence_weight * coh(e)

    ctx(e) = cos(text, e)  +  context_word_weight * max over content words w outside the mention of cos(w, e)

(the word term only for entities with a part of speech, i.e. WordNet synsets, whose glosses single
words are compared with; a KG of concepts with short definitions is compared with the sentence only)

When the context calls for a part of speech (:func:`kemm.linking.senses.pos_cue`: "the dogs" is a
noun) and some candidates have it, the candidates of another known part of speech have their prior,
context and coherence terms multiplied by ``pos_penalty`` (the priors then rescaled to their former
sum), so a strong context does not bring back "to dog" in "the dogs".

``sim`` is the dense similarity (1 for phrase matches); ``cos(text, e)`` the cosine between the
encoded text and the encoded sense text of ``e`` (:func:`kemm.linking.senses.sense_text`: its
label and description, for WordNet also its domain and lemmas), ``cos(w, e)`` the same for one word
of the text ("keyboard" tells the mouse that is a device; negative cosines count as 0); ``coh(e)`` the fraction of the other
mentions of the text that have a candidate adjacent to ``e`` in the KG (either direction, read from
the CSR adjacency). Context and coherence only matter to choose between candidates, so they are
computed only for mentions with more than one. A best score below ``nil_threshold`` gives NIL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kemm.kg.graph import KnowledgeGraph
from kemm.linking.candidates import Mention
from kemm.linking.config import LinkerConfig

#: At most this many candidates per other mention are read when computing coherence.
COHERENCE_TOP = 10


@dataclass
class Context:
    """The encoded text around the mentions of one doc.

    Attributes:
        text: shape ``(D,)`` unit vector of the whole text.
        words: shape ``(W, D)`` unit vectors of its content words (alphabetic, not stop words).
        positions: shape ``(W,)`` token index of each word, so a mention's own words are left out.
    """

    text: np.ndarray
    words: np.ndarray | None = None
    positions: np.ndarray | None = None

    def word_similarity(self, ev: np.ndarray, start: int, end: int) -> np.ndarray:
        """shape: (k,) best cosine of each entity vector (``ev``: (k, D)) with a word outside [start, end)."""
        if self.words is None or self.positions is None or not len(self.words):
            return np.zeros(len(ev), dtype=np.float32)
        keep = (self.positions < start) | (self.positions >= end)
        if not keep.any():
            return np.zeros(len(ev), dtype=np.float32)
        return np.clip(ev @ self.words[keep].T, 0.0, None).max(axis=1)  # (k, W') -> (k,)


@dataclass
class Decision:
    """The outcome for one mention.

    Attributes:
        mention: the mention.
        index: index of the chosen candidate in ``mention.ids``, or ``-1`` for NIL.
        score: the chosen (or best, for NIL) candidate's score.
        scores: shape ``(k,)`` the score of every candidate.
    """

    mention: Mention
    index: int
    score: float
    scores: np.ndarray

    @property
    def entity(self) -> int | None:
        return None if self.index < 0 else int(self.mention.ids[self.index])


class Disambiguator:
    """Scores candidates against the KG (coherence) and an optional entity encoder (context).

    Args:
        kg: the knowledge graph.
        config: linker configuration (weights, NIL threshold).
        entity_vectors: ids -> shape ``(len(ids), D)`` unit vectors, or ``None`` (no context term).
        entity_pos: shape ``(num_entities,)`` part of speech of each entity (``""`` unknown), from
            :func:`kemm.linking.senses.entity_pos`; ``None``: no part-of-speech cue.
    """

    def __init__(
        self,
        kg: KnowledgeGraph,
        config: LinkerConfig,
        entity_vectors: Callable[[np.ndarray], np.ndarray] | None = None,
        entity_pos: np.ndarray | None = None,
    ) -> None:
        self.kg = kg
        self.config = config
        self.entity_vectors = entity_vectors
        self.entity_pos = entity_pos if entity_pos is not None and (entity_pos != "").any() else None
        self._out = kg.csr("out")
        self._in = kg.csr("in")
        self._nbr_cache: dict[int, frozenset[int]] = {}

    def neighbours(self, e: int) -> frozenset[int]:
        """Neighbours of ``e`` in either direction (cached)."""
        nb = self._nbr_cache.get(e)
        if nb is None:
            nb = frozenset(self._out.neighbor[self._out.row(e)].tolist()) | frozenset(
                self._in.neighbor[self._in.row(e)].tolist()
            )
            if len(self._nbr_cache) > 100_000:
                self._nbr_cache.clear()
            self._nbr_cache[e] = nb
        return nb

    def needs_context(self, mentions: list[Mention]) -> bool:
        return (
            self.entity_vectors is not None
            and self.config.context_weight > 0
            and any(len(m.ids) > 1 for m in mentions)
        )

    def coherence(self, mentions: list[Mention], i: int) -> np.ndarray:
        """shape: (k_i,) fraction of the other mentions with a candidate adjacent to each candidate of i."""
        others = [m.ids[:COHERENCE_TOP].tolist() for j, m in enumerate(mentions) if j != i and len(m.ids)]
        ids = mentions[i].ids
        out = np.zeros(len(ids), dtype=np.float32)
        if not others:
            return out
        for c, e in enumerate(ids.tolist()):
            nb = self.neighbours(e)
            if nb:
                out[c] = sum(not nb.isdisjoint(o) for o in others) / len(others)
        return out

    def pos_factor(self, m: Mention) -> np.ndarray | None:
        """shape: (k,) ``pos_penalty`` for candidates of another part of speech than the cue, else 1."""
        if m.pos_cue is None or self.entity_pos is None or self.config.pos_penalty >= 1.0 or len(m.ids) < 2:
            return None
        pos = self.entity_pos[m.ids]  # (k,)
        fits = pos == m.pos_cue
        if not fits.any():
            return None
        return np.where((pos != "") & ~fits, self.config.pos_penalty, 1.0).astype(np.float32)

    def prior(self, m: Mention, factor: np.ndarray | None = None) -> np.ndarray:
        """shape: (k,) ``m.prior`` times the part-of-speech ``factor``, rescaled to its former sum."""
        if factor is None:
            return m.prior
        prior = m.prior * factor
        return (prior * (m.prior.sum() / max(float(prior.sum()), 1e-12))).astype(np.float32)

    def resolve(self, mentions: list[Mention], context: Context | None = None) -> list[Decision]:
        """One decision per mention; ``context`` is the encoded text (or None: no context term)."""
        cfg = self.config
        decisions = []
        for i, m in enumerate(mentions):
            if not len(m.ids):
                continue
            factor = self.pos_factor(m)
            scores = cfg.prior_weight * self.prior(m, factor) * m.similarity  # (k,)
            if len(m.ids) > 1:
                if context is not None and self.entity_vectors is not None and cfg.context_weight > 0:
                    ev = self.entity_vectors(m.ids)  # (k, D)
                    ctx = np.clip(ev @ context.text, 0.0, None)  # (k,)
                    if cfg.context_word_weight > 0 and self.entity_pos is not None:
                        # words against glosses: for entities with a part of speech (WordNet synsets)
                        lexical = self.entity_pos[m.ids] != ""  # (k,)
                        words = context.word_similarity(ev, m.start, m.end)
                        ctx = ctx + cfg.context_word_weight * np.where(lexical, words, 0.0)
                    scores = scores + cfg.context_weight * ctx * (factor if factor is not None else 1.0)
                if cfg.coherence_weight > 0 and len(mentions) > 1:
                    coh = self.coherence(mentions, i)
                    scores = scores + cfg.coherence_weight * coh * (factor if factor is not None else 1.0)
            best = int(np.argmax(scores))
            score = float(scores[best])
            decisions.append(Decision(m, best if score >= cfg.nil_threshold else -1, score, scores))
        return decisions
