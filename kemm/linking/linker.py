"""``EntityLinker``: text -> spans linked to KG entities.

>>> linker = EntityLinker.from_kg(kg, LinkerConfig(encoder=None))       # doctest: +SKIP
>>> [(l.text, l.key, l.reason) for l in linker.link("Knives cut apples.")]  # doctest: +SKIP
[('Knives', 'http://example.org/kg/knife', 'lemma'), ('apples', 'http://example.org/kg/apple', 'exact')]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from spacy.tokens import Doc

from kemm.kg.graph import KnowledgeGraph
from kemm.linking.aliases import SYNSET_NAME, AliasTable
from kemm.linking.cache import AliasCache
from kemm.linking.candidates import CandidateGenerator
from kemm.linking.config import LinkerConfig
from kemm.linking.disambiguation import Context, Disambiguator
from kemm.linking.encoder import TextEncoder, load_encoder
from kemm.linking.pipeline import PipelineInfo, load_pipeline
from kemm.linking.senses import entity_domains, entity_pos, sense_text

logger = logging.getLogger(__name__)


@dataclass
class EntityLink:
    """One linked mention.

    Attributes:
        start: character offset of the mention in the (possibly truncated) text; ``end`` one past it.
        text: the mention as written.
        entity_id: the entity's id in the KG; ``key`` its key; ``label`` its label.
        score: the disambiguation score (see :mod:`kemm.linking.disambiguation`).
        reason: how the mention was found: ``exact``, ``lemma`` or ``dense``.
        num_candidates: how many entities the mention could have named.
    """

    start: int
    end: int
    text: str
    entity_id: int
    key: str
    label: str
    score: float
    reason: str
    num_candidates: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LinkResult(Sequence):
    """The links of one text (a sequence of :class:`EntityLink`), and how they were made.

    Attributes:
        text: the text that was linked (after truncation).
        links: the links, in text order.
        pipeline: name of the spaCy pipeline that ran.
        truncated: whether the input was longer than ``max_text_chars`` and cut.
        reason: why the result is empty when it is empty on purpose (``"empty text"``,
            ``"unsupported language: ..."``), else ``None``.
        nil: mentions that had candidates but scored below the NIL threshold (their text).
    """

    text: str
    links: list[EntityLink] = field(default_factory=list)
    pipeline: str = ""
    truncated: bool = False
    reason: str | None = None
    nil: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.links)

    def __getitem__(self, i):  # type: ignore[override]
        return self.links[i]

    def __iter__(self) -> Iterator[EntityLink]:
        return iter(self.links)

    @property
    def entity_ids(self) -> list[int]:
        return [link.entity_id for link in self.links]

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "pipeline": self.pipeline,
            "truncated": self.truncated,
            "reason": self.reason,
            "links": [link.to_dict() for link in self.links],
            "nil": self.nil,
        }


class EntityLinker:
    """Links text to the entities of one KG (see the module docstring of :mod:`kemm.linking`).

    Args:
        kg: the knowledge graph.
        config: linker configuration.
        encoder: a text encoder to use instead of loading ``config.encoder``.
        table: an alias table to use instead of building (or reading the cached) one.
    """

    def __init__(
        self,
        kg: KnowledgeGraph,
        config: LinkerConfig | None = None,
        encoder: TextEncoder | None = None,
        table: AliasTable | None = None,
    ) -> None:
        self.kg = kg
        self.config = config = config or LinkerConfig()
        self.nlp, self.pipeline_info = load_pipeline(config.pipeline)
        cache = AliasCache.for_kg(kg, config, self.pipeline_info) if config.cache and table is None else None
        cached = cache.load() if cache is not None else None
        patterns = None
        if cached is not None:
            table, patterns = cached
        self.table = table or AliasTable.from_kg(
            kg,
            lang=self.nlp.lang or "en",
            wordnet_dir=config.wordnet_dir,
            min_chars=config.min_alias_chars,
            sense_rank_exponent=config.sense_rank_exponent,
        )
        if encoder is None and config.uses_encoder:
            assert config.encoder is not None
            encoder = load_encoder(
                config.encoder, max_length=config.encoder_max_length, batch_size=config.encoder_batch_size
            )
        self.encoder = encoder
        dense_encoder = encoder if config.dense else None
        self.candidates = CandidateGenerator(
            self.nlp,
            self.table,
            config,
            dense_encoder,
            patterns=patterns,
            dense_cache=(
                cache.dense_path(dense_encoder.name, config.encoder_max_length)
                if cache is not None and dense_encoder is not None
                else None
            ),
        )
        if cache is not None and cached is None:
            cache.save(self.table, self.candidates.patterns)
        self._entity_vecs: dict[int, np.ndarray] = {}
        self._word_vecs: dict[str, np.ndarray] = {}
        self._domains: list[str] | None = None
        self._synonyms: dict[int, list[str]] = {}
        self.disambiguator = Disambiguator(
            kg, config, self._entity_vectors if encoder is not None else None, entity_pos(kg)
        )

    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, config: LinkerConfig | None = None, **kwargs) -> EntityLinker:
        return cls(kg, config, **kwargs)

    @property
    def pipeline(self) -> PipelineInfo:
        return self.pipeline_info

    # -- entity vectors for context similarity ------------------------------------------------
    def _entity_vectors(self, ids: np.ndarray) -> np.ndarray:
        missing = [int(i) for i in ids.tolist() if int(i) not in self._entity_vecs]
        if missing:
            assert self.encoder is not None
            texts = [self.sense_text(i) for i in missing]
            order = sorted(range(len(missing)), key=lambda j: len(texts[j]))  # less padding per batch
            vecs = self.encoder.encode([texts[j] for j in order])
            for j, v in zip(order, vecs):
                self._entity_vecs[missing[j]] = v
        return np.stack([self._entity_vecs[int(i)] for i in ids.tolist()])  # (k, D)

    def _add_word_vectors(self, docs: list[Doc], contexts: list[Context]) -> None:
        """Fill the word vectors of each context (each distinct word encoded once per linker)."""
        words = [[(t.i, t.lower_) for t in doc if t.is_alpha and not t.is_stop] for doc in docs]
        missing = sorted({w for ws in words for _, w in ws} - self._word_vecs.keys())
        if missing:
            assert self.encoder is not None
            if len(self._word_vecs) > 200_000:
                self._word_vecs.clear()
            self._word_vecs.update(zip(missing, self.encoder.encode(missing)))
        for ws, ctx in zip(words, contexts):
            if ws:
                ctx.words = np.stack([self._word_vecs[w] for _, w in ws])  # (W, D)
                ctx.positions = np.array([i for i, _ in ws], dtype=np.int64)

    def sense_text(self, entity: int) -> str:
        """The text the context encoder compares with the text around a mention of ``entity``."""
        if self._domains is None:
            self._domains = entity_domains(self.kg)
            self._synonyms = {}
            if any(self._domains):
                for i, text, _ in self.kg.entities.aliases:
                    if self._domains[i] and SYNSET_NAME.match(text) is None:
                        self._synonyms.setdefault(i, []).append(text)
        ents = self.kg.entities
        domain = self._domains[entity]
        return sense_text(ents.label(entity), ents.descriptions[entity], domain, self._synonyms.get(entity))

    # -- input checks -------------------------------------------------------------------------
    def _prepare(self, text: str) -> tuple[str, bool, str | None]:
        if text is None or not text.strip():
            return "", False, "empty text"
        truncated = len(text) > self.config.max_text_chars
        if truncated:
            logger.warning(
                "text of %d characters truncated to max_text_chars=%d", len(text), self.config.max_text_chars
            )
            text = text[: self.config.max_text_chars]
        letters = [c for c in text if c.isalpha()]
        if letters and self.nlp.lang == "en":
            latin = sum(1 for c in letters if ord(c) < 0x250)
            if latin / len(letters) < 0.5:
                return (
                    text,
                    truncated,
                    (
                        f"unsupported language: the text is mostly in a non-Latin script and "
                        f"the pipeline is {self.pipeline_info.name} ({self.nlp.lang})"
                    ),
                )
        return text, truncated, None

    def _language_reason(self, doc: Doc) -> str | None:
        words = [t for t in doc if t.is_alpha]
        if len(words) < self.config.language_check_tokens:
            return None
        ratio = sum(t.is_stop for t in words) / len(words)
        if ratio < self.config.min_english_ratio:
            return (
                f"unsupported language: {ratio:.0%} of {len(words)} words are {self.nlp.lang} stop words "
                f"(pipeline {self.pipeline_info.name})"
            )
        return None

    # -- linking ------------------------------------------------------------------------------
    def link(self, text: str) -> LinkResult:
        """Link one text."""
        return self.link_many([text])[0]

    def link_many(self, texts: Sequence[str], batch_size: int = 256) -> list[LinkResult]:
        """Link many texts; spaCy runs them through ``nlp.pipe`` in batches, the encoder once per batch."""
        results: list[LinkResult] = []
        for s in range(0, len(texts), batch_size):
            results.extend(self._link_batch(texts[s : s + batch_size], batch_size))
        return results

    def _link_batch(self, texts: Sequence[str], batch_size: int) -> list[LinkResult]:
        name = self.pipeline_info.name
        prepared = [self._prepare(t) for t in texts]
        results = [LinkResult(text=t, pipeline=name, truncated=tr, reason=r) for t, tr, r in prepared]
        todo = [i for i, r in enumerate(results) if r.reason is None]
        docs = list(self.nlp.pipe((results[i].text for i in todo), batch_size=batch_size))
        keep = []
        for i, doc in zip(todo, docs):
            reason = self._language_reason(doc)
            if reason is not None:
                results[i].reason = reason
            else:
                keep.append((i, doc))
        if not keep:
            return results
        mentions = self.candidates.generate([doc for _, doc in keep])
        ctx_rows = [k for k, ms in enumerate(mentions) if self.disambiguator.needs_context(ms)]
        contexts: dict[int, Context] = {}
        if ctx_rows and self.encoder is not None:
            vecs = self.encoder.encode([keep[k][1].text for k in ctx_rows])  # (C, D)
            contexts = {k: Context(v) for k, v in zip(ctx_rows, vecs)}
            ambiguous = [m.ids for k in ctx_rows for m in mentions[k] if len(m.ids) > 1]
            if ambiguous:
                self._entity_vectors(np.concatenate(ambiguous))  # one encoder pass for the whole batch
            if self.config.context_word_weight > 0:
                self._add_word_vectors([keep[k][1] for k in ctx_rows], [contexts[k] for k in ctx_rows])
        ents = self.kg.entities
        for k, ((i, _), ms) in enumerate(zip(keep, mentions)):
            for d in self.disambiguator.resolve(ms, contexts.get(k)):
                m = d.mention
                if d.entity is None:
                    results[i].nil.append(m.text)
                    continue
                e = d.entity
                results[i].links.append(
                    EntityLink(
                        m.start_char,
                        m.end_char,
                        m.text,
                        e,
                        ents.keys[e],
                        ents.label(e),
                        round(d.score, 4),
                        m.reasons[d.index],
                        len(m.ids),
                    )
                )
        return results
