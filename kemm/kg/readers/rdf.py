"""RDF serialisations parsed with rdflib: Turtle, RDF/XML, JSON-LD, N3, TriG.

rdflib parses from the open file (no second in-memory copy of the text) into a ``Dataset``;
statements are then mapped the same way as the streaming N-Triples reader maps them
(see :mod:`kemm.kg.readers.rdfterms`). Syntax errors are reported with the file and, where
rdflib gives one, the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.rdfterms import NAME_PREDICATES, blank_key, plain_datatype
from kemm.utils.io import open_binary

_LINE = re.compile(r"line[: ]+(\d+)", re.IGNORECASE)


class _RdflibReader(Reader):
    rdflib_format: str

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        import rdflib
        from rdflib.term import BNode, Literal, URIRef

        record = SourceRecord(str(path), self.name)
        source_index = len(builder.sources)
        ds = rdflib.Dataset(default_union=True)
        stream, raw = open_binary(path)
        try:
            ds.parse(source=stream, format=self.rdflib_format, publicID=path.resolve().as_uri())
        except Exception as e:  # rdflib raises many types (BadSyntax, SAXParseException, JSON errors)
            line = _error_line(e)
            errors.error(
                f"invalid {self.name}: {type(e).__name__}: {_short(e)}; nothing was read from this file",
                path,
                line,
            )
            return record
        finally:
            stream.close()
            raw.close()
        if progress is not None:
            progress(path.stat().st_size)
        ents, rels = builder.entities.ids, builder.relations.ids

        def key(term) -> str | None:
            if isinstance(term, URIRef):
                return str(term)
            if isinstance(term, BNode):
                return blank_key(source_index, str(term))
            return None

        h, r, t = [], [], []
        for s, p, o in ds.triples((None, None, None)):
            skey = key(s)
            if skey is None:
                continue
            if isinstance(o, Literal):
                kind = NAME_PREDICATES.get(str(p))
                lang = o.language or ""
                if kind is not None:
                    builder.add_name(skey, kind, str(o), lang)
                else:
                    dt = plain_datatype(str(o.datatype)) if o.datatype is not None else ""
                    builder.add_attribute(ents[skey], str(p), str(o), dt, lang)
                    record.attributes += 1
                continue
            okey = key(o)
            if okey is None:
                continue
            h.append(ents[skey])
            r.append(rels[str(p)])
            t.append(ents[okey])
        record.triples += builder.add_triples(h, r, t)
        return record


def _error_line(e: Exception) -> int | None:
    m = _LINE.search(str(e))  # rdflib's BadSyntax says "at line N" (1-based; its .lines is 0-based)
    if m:
        return int(m.group(1))
    for attr in ("lines", "lineno", "line"):
        v = getattr(e, attr, None)
        if isinstance(v, int):
            return v
    getline = getattr(e, "getLineNumber", None)
    if callable(getline):
        try:
            return int(getline())
        except Exception:  # noqa: BLE001
            return None
    return None


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) < 300 else text[:300] + "..."


def _register(
    name: str, fmt: str, exts: tuple[str, ...], aliases: tuple[str, ...], sniff_tokens: tuple[bytes, ...] = ()
):
    @READERS.register(name, aliases=aliases)
    class _R(_RdflibReader):
        __doc__ = f"{name} via rdflib (extensions {', '.join(exts)})."

        @classmethod
        def sniff(cls, path: Path, head: bytes) -> bool:
            return any(tok in head for tok in sniff_tokens)

    _R.name = name
    _R.extensions = exts
    _R.rdflib_format = fmt
    _R.__name__ = _R.__qualname__ = "".join(p.capitalize() for p in name.split("_")) + "Reader"
    return _R


TurtleReader = _register(
    "turtle", "turtle", (".ttl", ".turtle"), ("ttl",), (b"@prefix", b"PREFIX ", b"@base")
)
RdfXmlReader = _register("rdfxml", "xml", (".rdf", ".owl", ".xml"), ("rdf/xml", "xml", "rdf"), (b"<rdf:RDF",))
JsonLdReader = _register(
    "jsonld", "json-ld", (".jsonld", ".json-ld"), ("json-ld",), (b'"@context"', b'"@id"')
)
N3Reader = _register("n3", "n3", (".n3",), (), ())
TrigReader = _register("trig", "trig", (".trig",), (), ())
