"""Candidate generation: which spans of a text may name a KG entity, and which entities.

Two phrase matchers run over every doc: one on ``LOWER`` (reason ``exact``) and one on ``NORM``,
which :mod:`kemm.linking.pipeline` sets to the lower-cased lemma (reason ``lemma``: ``"knives"``
finds ``"knife"``). As QA-GNN grounds text into ConceptNet, the longest match wins, and a single stop
word or punctuation token never links alone. Content words (and, with a parser, noun chunks) that no
phrase covers become queries against a faiss inner-product index over the embeddings of all surface
forms (reason ``dense``: spelling variants and paraphrases), kept when their cosine similarity reaches
``dense_threshold``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from kemm.linking.aliases import AliasTable, Candidates, merge_candidates
from kemm.linking.config import LinkerConfig
from kemm.linking.encoder import TextEncoder

logger = logging.getLogger(__name__)

REASONS = ("exact", "lemma", "dense")
_LEMMA_PREFIX = "\x1fL:"


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


class CandidateGenerator:
    """Phrase and dense candidates over one alias table.

    Args:
        nlp: the pipeline of :func:`kemm.linking.pipeline.load_pipeline` (its ``NORM`` holds lemmas).
        table: the alias table.
        config: linker configuration.
        encoder: text encoder for dense candidates; ``None`` disables them.
    """

    def __init__(
        self, nlp: Language, table: AliasTable, config: LinkerConfig, encoder: TextEncoder | None = None
    ) -> None:
        self.nlp = nlp
        self.table = table
        self.config = config
        self.encoder = encoder
        self.forms: list[str] = [f for f in table.forms if len(f) >= config.min_alias_chars]
        self.exact = PhraseMatcher(nlp.vocab, attr="LOWER" if config.lowercase else "ORTH")
        self.lemma = PhraseMatcher(nlp.vocab, attr="NORM") if config.use_lemmas else None
        self.lemma_forms: dict[str, list[str]] = {}
        self._key_text: dict[int, str] = {}
        self._build_matchers()
        self._index = None  # faiss index over self.forms, built on first dense query

    # -- matchers ---------------------------------------------------------------------------
    def _build_matchers(self) -> None:
        strings = self.nlp.vocab.strings
        # the full pipeline (for NORM = lemma) only when lemma matching is on; else tokens suffice
        run = (
            (lambda texts: self.nlp.pipe(texts, batch_size=1024))
            if self.lemma is not None
            else (lambda texts: self.nlp.tokenizer.pipe(texts, batch_size=1024))  # type: ignore[union-attr]
        )
        # "ice cream" also matches "ice-cream", which spaCy splits into ice - cream
        multi = [f for f in self.forms if " " in f]
        hyphenated = dict(zip(multi, run([f.replace(" ", "-") for f in multi])))
        for form, doc in zip(self.forms, run(self.forms)):
            patterns = [doc, hyphenated[form]] if form in hyphenated else [doc]
            self.exact.add(form, patterns)
            self._key_text[strings[form]] = form
            if self.lemma is not None:
                lemma_form = " ".join(t.norm_ for t in doc)
                group = self.lemma_forms.get(lemma_form)
                if group is None:
                    self.lemma_forms[lemma_form] = [form]
                    key = _LEMMA_PREFIX + lemma_form
                    self.lemma.add(key, patterns)
                    self._key_text[strings[key]] = key
                else:
                    group.append(form)
        logger.info("phrase matchers: %d forms, %d lemma forms", len(self.forms), len(self.lemma_forms))

    def _lemma_candidates(self, lemma_form: str) -> Candidates:
        return merge_candidates(self.table.forms[f] for f in self.lemma_forms.get(lemma_form, ()))

    def phrase_mentions(self, doc: Doc) -> list[Mention]:
        """Longest non-overlapping exact/lemma matches; lone stop words and punctuation dropped."""
        found: dict[tuple[int, int], dict[str, str]] = {}
        for match_id, s, e in self.exact(doc):
            found.setdefault((s, e), {})["exact"] = self._key_text[match_id]
        if self.lemma is not None:
            for match_id, s, e in self.lemma(doc):
                found.setdefault((s, e), {})["lemma"] = self._key_text[match_id][len(_LEMMA_PREFIX) :]
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
            logger.info(
                "encoding %d surface forms for the dense index (%s)", len(self.forms), self.encoder.name
            )
            vecs = self.encoder.encode(self.forms)  # (F, D)
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
