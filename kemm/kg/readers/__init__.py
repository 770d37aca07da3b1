"""Readers for knowledge-graph source formats, and :func:`ingest`, which merges sources into one KG.

Formats (``--format``): ``ntriples``, ``nquads`` (streaming, pyoxigraph), ``turtle``, ``rdfxml``,
``jsonld``, ``n3``, ``trig`` (rdflib), ``conceptnet`` (assertions CSV), ``tsv`` (link-prediction
benchmark files or a directory of train/valid/test files), ``wordnet`` (WordNet 3.0 database
directory), or ``auto`` (by extension, then content).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kemm.errors import InputError, KemmError
from kemm.kg.builder import KGBuilder
from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers.base import READERS, ErrorPolicy, OnError, ProgressFn, Reader
from kemm.kg.readers.source import strip_bom
from kemm.utils.io import read_head, sha256_file

# importing the modules registers the readers
from kemm.kg.readers import conceptnet, ntriples, rdf, tsv, wordnet  # noqa: E402,F401  isort: skip

logger = logging.getLogger(__name__)

__all__ = ["READERS", "ErrorPolicy", "Reader", "detect_format", "ingest", "read_into"]


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path``: by extension (``.gz`` ignored), then by content."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path)
    if path.is_dir():
        for name in READERS.names():
            cls = READERS.get(name)
            if cls.sniff(path, b""):
                return name
        raise InputError(
            "directory holds neither train/valid/test triple files nor WordNet data.* files", path
        )
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    for name in READERS.names():
        if ext and ext in READERS.get(name).extensions:
            return name
    head = strip_bom(read_head(path))
    for name in READERS.names():
        if READERS.get(name).sniff(path, head):
            return name
    known = sorted({e for n in READERS.names() for e in READERS.get(n).extensions})
    raise InputError(
        f"cannot tell the format from the extension {ext!r} or the content; "
        f"pass --format (one of {', '.join(READERS.names())}); known extensions: {' '.join(known)}",
        path,
    )


def read_into(
    builder: KGBuilder,
    path: str | Path,
    format: str = "auto",
    errors: ErrorPolicy | None = None,
    progress: ProgressFn | None = None,
    **options,
) -> None:
    """Read one source into ``builder`` (shared vocabularies, so sources merge)."""
    path = Path(path)
    errors = errors or ErrorPolicy()
    if not path.exists():
        raise InputError("no such file or directory", path)
    fmt = detect_format(path) if format == "auto" else format
    reader = READERS.get(fmt)(**options)
    n_skipped = len(errors.skipped)
    t0 = time.perf_counter()
    record = reader.read(path, builder, errors, progress)
    record.skipped = len(errors.skipped) - n_skipped
    if path.is_file():
        record.size = os.path.getsize(path)
        record.sha256 = sha256_file(path)
    else:
        files = sorted(p for p in path.iterdir() if p.is_file())
        record.size = sum(p.stat().st_size for p in files)
        record.extra["files"] = {p.name: sha256_file(p) for p in files}
    builder.sources.append(record)  # what was read, never how long it took: stores are reproducible
    logger.info(
        "%s: %d triples, %d attributes, %d skipped (%s, %.2f s)",
        path,
        record.triples,
        record.attributes,
        record.skipped,
        fmt,
        time.perf_counter() - t0,
    )


def ingest(
    sources: Sequence[str | Path],
    format: str = "auto",
    lang: str | None = "en",
    on_error: OnError = "raise",
    progress: Callable[[Path, int], None] | None = None,
    dedup: bool = True,
    **options,
) -> tuple[KnowledgeGraph, list]:
    """Read and merge ``sources`` into one :class:`KnowledgeGraph`.

    Returns ``(kg, skipped)`` where ``skipped`` lists ``(source, line, reason, text)`` for every
    record skipped under ``on_error="skip"`` (empty under ``"raise"``).
    """
    if not sources:
        raise KemmError("ingest needs at least one source")
    builder = KGBuilder(lang=lang)
    errors = ErrorPolicy(on_error=on_error)
    for src in sources:
        src = Path(src)
        cb = (lambda n, _s=src: progress(_s, n)) if progress else None
        read_into(builder, src, format=format, errors=errors, progress=cb, lang=lang, **options)
    kg = builder.build(dedup=dedup)
    kg.meta["lang"] = lang
    return kg, errors.skipped
