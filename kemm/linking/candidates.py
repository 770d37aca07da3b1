"""Candidate generation: which spans of a text may name a KG entity, and which entities.

Two phrase matchers run over every doc: one on ``LOWER`` (reason ``exact``) and one on ``NORM``,
which :mod:`kemm.linking.pipeline` sets to the lower-cased lemma (reason ``lemma``: ``"knives"``
finds ``"knife"``). Each is a dictionary from token sequences to surface forms, looked up for every
span that starts with a token some pattern starts with (up to that token's longest pattern); the
patterns are the forms as the pipeline tokenises them (:class:`Patterns`, which
:mod:`kemm.linking.cache` stores next to the KG). As QA-GNN grounds text into ConceptNet, the
longest match wins, and a single stop word or punctuation token never links alone. Content words (and, with a parser, noun chunks) that no
phrase covers become queries against a faiss inner-product index over the embeddings of all surface
forms (reason ``dense``: spelling variants and paraphrases), kept when their cosine similarity reaches
``dense_threshold``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc

from kemm.linking.aliases import AliasTable, Candidates, merge_candidates
from kemm.linking.config import LinkerConfig
from kemm.linking.encoder import TextEncoder
from kemm.linking.senses import pos_cue

logger = logging.getLogger(__name__)

REASONS = ("exact", "lemma", "dense")


@dataclass
class Patterns:
    """The token sequences the phrase matchers look for: one row per (form, variant).

    Attributes:
        form: shape ``(P,)`` int64, index of the row's form in ``CandidateGenerator.forms``.
        tokens: the row's tokens as the exact matcher compares them (``LOWER``), space-joined.
        norms: their lemmas (``NORM``), space-joined.
        variant: shape ``(P,)`` bool; True for the hyphenated spelling of a multi-word form
            (``"ice cream"`` also matches ``"ice-cream"``, which spaCy splits into three tokens).
    """

    form: np.ndarray
    tokens: list[str]
    norms: list[str]
    variant: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)


class _SequenceMatcher:
    """Token sequence -> value; :meth:`spans` finds every matching ``(start, end, value)`` of a doc."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, ...], str] = {}
        self.longest: dict[str, int] = {}  # first token -> length of its longest pattern

    def add(self, tokens: tuple[str, ...], value: str) -> None:
        if not tokens or tokens in self.table:
            return  # the first pattern added for a sequence wins (forms before hyphenated variants)
        self.table[tokens] = value
        first = tokens[0]
        if len(tokens) > self.longest.get(first, 0):
            self.longest[first] = len(tokens)

    def spans(self, words: list[str]) -> list[tuple[int, int, str]]:
        out = []
        table, longest = self.table, self.longest
        for s, first in enumerate(words):
            n = longest.get(first)
            if n is None:
                continue
            for e in range(s + 1, min(s + n, len(words)) + 1):
                value = table.get(tuple(words[s:e]))
                if value is not None:
                    out.append((s, e, value))
        return out


@dataclass
class Mention:
    """A span that may name an entity, with its candidates.

    Attributes:
        start: first token index; ``end``: one past the last.
        start_char: character offset of the span in the doc; ``end_char``: one past its end.
        text: the span's text.
        reason: how the span was found: ``exact``, ``lemma`` or ``dense``.
        ids: shape ``(k,)`` candidate entity ids.
        prior: shape ``(k,)`` P(entity | surface form) (lemma matches scaled by ``lemma_penalty``).
        similarity: shape ``(k,)`` dense cosine similarity of each candidate (1 for phrase matches).
        reasons: per candidate: ``exact``, ``lemma`` or ``dense``.
        pos_cue: the part of speech the context calls for (``n``, ``v``; see
            :func:`kemm.linking.senses.pos_cue`), or None.
    """

    start: int
    end: int
    start_char: int
    end_char: int
    text: str
    reason: str
    ids: np.ndarray
    prior: np.ndarray
    similarity: np.ndarray
    reasons: list[str]
    pos_cue: str | None = None


class CandidateGenerator:
    """Phrase and dense candidates over one alias table.

    Args:
        nlp: the pipeline of :func:`kemm.linking.pipeline.load_pipeline` (its ``NORM`` holds lemmas).
        table: the alias table.
        config: linker configuration.
        encoder: text encoder for dense candidates; ``None`` disables them.
    """

    def __init__(
        self,
        nlp: Language,
        table: AliasTable,
        config: LinkerConfig,
        encoder: TextEncoder | None = None,
        patterns: Patterns | None = None,
        dense_cache: Path | None = None,
    ) -> None:
        self.nlp = nlp
        self.table = table
        self.config = config
        self.encoder = encoder
        self.forms: list[str] = [f for f in table.forms if len(f) >= config.min_alias_chars]
        self.patterns = patterns if patterns is not None else self.tokenize_forms()
        self.exact = _SequenceMatcher()
        self.lemma = _SequenceMatcher() if config.use_lemmas else None
        self.lemma_forms: dict[str, list[str]] = {}
        self._build_matchers()
        self.dense_cache = dense_cache
        self._index = None  # faiss index over self.forms, built on first dense query

    # -- matchers ---------------------------------------------------------------------------
    def tokenize_forms(self) -> Patterns:
        """Run the pipeline over every form (and the hyphenated spelling of multi-word forms)."""
        # the full pipeline (for NORM = lemma) only when lemma matching is on; else tokens suffice
        run = (
            (lambda texts: self.nlp.pipe(texts, batch_size=1024))
            if self.config.use_lemmas
            else (lambda texts: self.nlp.tokenizer.pipe(texts, batch_size=1024))  # type: ignore[union-attr]
        )
        lower = self.config.lowercase
        multi = [i for i, f in enumerate(self.forms) if " " in f]
        rows: list[tuple[int, Doc, bool]] = [(i, doc, False) for i, doc in enumerate(run(self.forms))]
        hyphenated = run([self.forms[i].replace(" ", "-") for i in multi])
        rows += [(i, doc, True) for i, doc in zip(multi, hyphenated)]
        logger.info("tokenised %d surface forms (%d hyphenated variants)", len(self.forms), len(multi))
        return Patterns(
            form=np.array([r[0] for r in rows], dtype=np.int64),
            tokens=[" ".join(t.lower_ if lower else t.text for t in doc) for _, doc, _ in rows],
            norms=[" ".join(t.norm_ for t in doc) for _, doc, _ in rows],
            variant=np.array([r[2] for r in rows], dtype=bool),
        )

    def _build_matchers(self) -> None:
        pat = self.patterns
        forms = self.forms
        own_lemma: dict[int, str] = {}
        order = np.argsort(pat.variant, kind="stable")  # the forms' own spellings first
        for row in order.tolist():
            i = int(pat.form[row])
            form = forms[i]
            self.exact.add(tuple(pat.tokens[row].split(" ")), form)
            if self.lemma is not None:
                lemma_form = pat.norms[row]
                if not pat.variant[row]:
                    own_lemma[i] = lemma_form
                    group = self.lemma_forms.setdefault(lemma_form, [])
                    group.append(form)
                # a hyphenated variant finds the lemma form of its own form
                self.lemma.add(tuple(lemma_form.split(" ")), own_lemma.get(i, lemma_form))
        logger.info("phrase matchers: %d forms, %d lemma forms", len(forms), len(self.lemma_forms))

    def _lemma_candidates(self, lemma_form: str) -> Candidates:
        return merge_candidates(self.table.forms[f] for f in self.lemma_forms.get(lemma_form, ()))

    def phrase_mentions(self, doc: Doc) -> list[Mention]:
        """Longest non-overlapping exact/lemma matches; lone stop words and punctuation dropped."""
        found: dict[tuple[int, int], dict[str, str]] = {}
        lower = self.config.lowercase
        for s, e, form in self.exact.spans([t.lower_ if lower else t.text for t in doc]):
            found.setdefault((s, e), {})["exact"] = form
        if self.lemma is not None:
            for s, e, lemma_form in self.lemma.spans([t.norm_ for t in doc]):
                found.setdefault((s, e), {})["lemma"] = lemma_form
        blocked = self._blocked_tokens(doc)
        spans = []
        for (s, e), how in found.items():
            toks = doc[s:e]
            if all(t.is_stop or t.is_punct or t.is_space for t in toks):
                continue  # stop words and punctuation never link alone
            if blocked is not None and blocked[s:e].any():
                continue
            spans.append((-(e - s), 0 if "exact" in how else 1, s, e, how))
        spans.sort()
        covered = np.zeros(len(doc), dtype=bool)
        mentions = []
        lp = self.config.lemma_penalty
        for _, _, s, e, how in spans:
            if covered[s:e].any():
                continue
            covered[s:e] = True
            parts: list[tuple[Candidates, float, str]] = []
            if "exact" in how:
                parts.append((self.table.candidates(how["exact"]), 1.0, "exact"))
            if "lemma" in how:
                parts.append((self._lemma_candidates(how["lemma"]), lp, "lemma"))
            ids, prior, reasons = _combine(parts)
            span = doc[s:e]
            mentions.append(
                Mention(
                    s,
                    e,
                    span.start_char,
                    span.end_char,
                    span.text,
                    reasons[0],
                    ids,
                    prior,
                    np.ones(len(ids), dtype=np.float32),
                    reasons,
                    pos_cue(doc, s, e),
                )
            )
        mentions.sort(key=lambda m: m.start)
        return mentions

    def _blocked_tokens(self, doc: Doc) -> np.ndarray | None:
        if not doc.ents or not self.config.skip_ner_labels:
            return None
        blocked = np.zeros(len(doc), dtype=bool)
        for ent in doc.ents:
            if ent.label_ in self.config.skip_ner_labels:
                blocked[ent.start : ent.end] = True
        return blocked

    # -- dense ------------------------------------------------------------------------------
    @property
    def dense_enabled(self) -> bool:
        return self.config.dense and self.encoder is not None and bool(self.forms)

    def _dense_index(self):
        if self._index is None:
            import faiss

            assert self.encoder is not None
            vecs = None
            if self.dense_cache is not None:
                from kemm.linking.cache import load_vectors

                vecs = load_vectors(self.dense_cache, len(self.forms), self.encoder.dim)
            if vecs is None:
                logger.info(
                    "encoding %d surface forms for the dense index (%s)", len(self.forms), self.encoder.name
                )
                vecs = self.encoder.encode(self.forms)  # (F, D)
                if self.dense_cache is not None:
                    from kemm.linking.cache import save_vectors

                    save_vectors(self.dense_cache, vecs)
            index = faiss.IndexFlatIP(vecs.shape[1])
            index.add(vecs)
            self._index = index
        return self._index

    def dense_queries(self, doc: Doc, mentions: list[Mention]) -> list[tuple[int, int, str]]:
        """Uncovered content words and noun chunks: ``(start, end, query text)``; queries are lemmas."""
        covered = np.zeros(len(doc), dtype=bool)
        for m in mentions:
            covered[m.start : m.end] = True
        blocked = self._blocked_tokens(doc)
        if blocked is not None:
            covered |= blocked
        out = []
        if doc.has_annotation("DEP"):
            for chunk in doc.noun_chunks:
                toks = [t for t in chunk if not t.is_stop and not t.is_punct]
                if len(toks) > 1 and not covered[chunk.start : chunk.end].any():
                    out.append((toks[0].i, toks[-1].i + 1, " ".join(t.norm_ for t in toks)))
        n = self.config.dense_min_chars
        for t in doc:
            if not covered[t.i] and t.is_alpha and not t.is_stop and len(t.text) >= n:
                out.append((t.i, t.i + 1, t.norm_))
        return out

    def dense_mentions(self, docs: list[Doc], mentions: list[list[Mention]]) -> list[list[Mention]]:
        """Dense mentions for each doc (queries of the whole batch encoded at once)."""
        result: list[list[Mention]] = [[] for _ in docs]
        if not self.dense_enabled:
            return result
        queries = [
            (d, *q) for d, (doc, ms) in enumerate(zip(docs, mentions)) for q in self.dense_queries(doc, ms)
        ]
        if not queries:
            return result
        assert self.encoder is not None
        vecs = self.encoder.encode([q[3] for q in queries])  # (Q, D)
        k = min(self.config.dense_top_k, len(self.forms))
        sims, rows = self._dense_index().search(vecs, k)  # (Q, k) each
        thr = self.config.dense_threshold
        taken: list[np.ndarray] = [np.zeros(len(doc), dtype=bool) for doc in docs]
        order = sorted(range(len(queries)), key=lambda i: (queries[i][1] - queries[i][2], -float(sims[i, 0])))
        for qi in order:
            d, s, e, _ = queries[qi]
            if sims[qi, 0] < thr or taken[d][s:e].any():
                continue
            best: dict[int, tuple[float, float]] = {}  # entity -> (similarity, prior)
            for sim, row in zip(sims[qi], rows[qi]):
                if row < 0 or sim < thr:
                    continue
                c = self.table.candidates(self.forms[row])
                for e_id, p in zip(c.ids.tolist(), c.prior.tolist()):
                    if e_id not in best or (sim, p) > best[e_id]:
                        best[e_id] = (float(sim), p)
            if not best:
                continue
            taken[d][s:e] = True
            ids = np.fromiter(best, dtype=np.int64, count=len(best))
            sim_arr = np.array([v[0] for v in best.values()], dtype=np.float32)
            prior = np.array([v[1] for v in best.values()], dtype=np.float32)
            span = docs[d][s:e]
            result[d].append(
                Mention(
                    s,
                    e,
                    span.start_char,
                    span.end_char,
                    span.text,
                    "dense",
                    ids,
                    prior / max(float(prior.sum()), 1e-12),
                    sim_arr,
                    ["dense"] * len(ids),
                    pos_cue(docs[d], s, e),
                )
            )
        for r in result:
            r.sort(key=lambda m: m.start)
        return result

    def generate(self, docs: list[Doc]) -> list[list[Mention]]:
        """All mentions of each doc, phrase matches first and dense ones where no phrase matched."""
        phrase = [self.phrase_mentions(doc) for doc in docs]
        dense = self.dense_mentions(docs, phrase)
        return [sorted(p + q, key=lambda m: m.start) for p, q in zip(phrase, dense)]


def _combine(parts: list[tuple[Candidates, float, str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    best: dict[int, tuple[float, str]] = {}
    for c, factor, reason in parts:
        for e, p in zip(c.ids.tolist(), c.prior.tolist()):
            if e not in best or p * factor > best[e][0]:
                best[e] = (p * factor, reason)
    items = sorted(best.items(), key=lambda kv: -kv[1][0])
    ids = np.array([e for e, _ in items], dtype=np.int64)
    prior = np.array([v[0] for _, v in items], dtype=np.float32)
    return ids, prior, [v[1] for _, v in items]
