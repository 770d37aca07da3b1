"""The spaCy pipeline the linker runs: tokens and lemmas always, entities and noun chunks when trained.

``blank:en`` is ``spacy.blank("en")`` plus the lookup lemmatizer whose table ships in
``spacy-lookups-data``: it needs no download and no model. A trained pipeline (``en_core_web_sm``)
adds named entities and noun chunks. Either way a last component, ``kemm_match_norm``, writes each
token's lower-cased lemma into ``token.norm_``, which is the attribute lemma phrase matching reads
(spaCy's lookup lemmas keep the case of the text, and ``PhraseMatcher`` on ``LEMMA`` is
case-sensitive).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from kemm.errors import KemmError

logger = logging.getLogger(__name__)

NORM_COMPONENT = "kemm_match_norm"


@Language.component(NORM_COMPONENT)
def _match_norm(doc: Doc) -> Doc:
    """Set ``token.norm_`` to the lower-cased lemma (looked up on the lower-cased text when needed)."""
    table = (
        doc.vocab.lookups.get_table("kemm_lemma_lookup")
        if doc.vocab.lookups.has_table("kemm_lemma_lookup")
        else None
    )
    for tok in doc:
        lower = tok.lower_
        if table is not None:
            lemma = table.get(lower, None)
            if lemma is None:
                lemma = tok.lemma_.lower() or lower
        else:
            lemma = tok.lemma_.lower() or lower
        tok.norm_ = lemma
    return doc


@dataclass(frozen=True)
class PipelineInfo:
    """Which spaCy pipeline runs.

    Attributes:
        name: ``"blank:en"`` or the trained pipeline's package name.
        lang: its language code.
        components: names of its components, in order.
        has_ner: whether ``doc.ents`` is filled.
        has_noun_chunks: whether ``doc.noun_chunks`` works (needs a dependency parser).
        spacy_version: the spaCy version.
    """

    name: str
    lang: str
    components: tuple[str, ...]
    has_ner: bool
    has_noun_chunks: bool
    spacy_version: str

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "lang": self.lang,
            "components": list(self.components),
            "has_ner": self.has_ner,
            "has_noun_chunks": self.has_noun_chunks,
            "spacy_version": self.spacy_version,
        }


def trained_pipeline_available(name: str = "en_core_web_sm") -> bool:
    return importlib.util.find_spec(name) is not None


def load_pipeline(name: str = "blank:en") -> tuple[Language, PipelineInfo]:
    """Load the pipeline ``name`` (``blank:<lang>``, an installed package name, a path, or ``auto``)."""
    if name == "auto":
        name = "en_core_web_sm" if trained_pipeline_available() else "blank:en"
    if name.startswith("blank:"):
        lang = name.split(":", 1)[1] or "en"
        nlp = spacy.blank(lang)
        try:
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
        except Exception as e:  # noqa: BLE001 - spaCy raises ValueError/OSError/ImportError here
            raise KemmError(
                f"cannot set up the lookup lemmatizer of {name!r} ({type(e).__name__}: {e}); "
                "is spacy-lookups-data installed?"
            ) from e
        lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
        if lookups.has_table("lemma_lookup"):
            nlp.vocab.lookups.set_table("kemm_lemma_lookup", lookups.get_table("lemma_lookup"))
    else:
        try:
            nlp = spacy.load(name)
        except OSError as e:
            raise KemmError(
                f"spaCy pipeline {name!r} is not installed (use 'blank:en', which works offline, "
                f"or install the package): {e}"
            ) from e
    nlp.add_pipe(NORM_COMPONENT, last=True)
    has_ner = "ner" in nlp.pipe_names
    has_parser = "parser" in nlp.pipe_names
    info = PipelineInfo(
        name=name,
        lang=nlp.lang or "",
        components=tuple(nlp.pipe_names),
        has_ner=has_ner,
        has_noun_chunks=has_parser,
        spacy_version=spacy.__version__,
    )
    logger.debug("spaCy pipeline %s: %s", name, ", ".join(nlp.pipe_names))
    return nlp, info
