"""RDF serialisations parsed with rdflib: Turtle, RDF/XML, JSON-LD, N3, TriG.

rdflib parses from the open file (no second in-memory copy of the text) into a ``Dataset``
whose store remembers the parse order; statements are then mapped, in document order, the same
way as the streaming N-Triples reader maps them (see :mod:`kemm.kg.readers.rdfterms`), so that
ids come out the same on every ingest. Blank nodes, which rdflib names at random, are numbered in
order of appearance. Syntax errors are reported with the file and, where rdflib gives one, the
line and its text.
"""

from __future__ import annotations

import re
from pathlib import Path

from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.rdfterms import NAME_PREDICATES, blank_key, plain_datatype
from kemm.kg.readers.source import Source, broken_message

_LINE = re.compile(r"line[: ]+(\d+)", re.IGNORECASE)


class _RdflibReader(Reader):
    rdflib_format: str

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        import rdflib
        from rdflib.term import BNode, Literal, URIRef

        from kemm.kg.readers.rdfstore import OrderedMemory  # imports rdflib: only when it is needed

        record = SourceRecord(str(path), self.name)
        source_index = len(builder.sources)
        store = OrderedMemory()
        ds = rdflib.Dataset(store=store, default_union=True)
        with Source(path) as src:
            try:
                ds.parse(source=src.stream, format=self.rdflib_format, publicID=path.resolve().as_uri())
            except Exception as e:  # rdflib raises many types (BadSyntax, SAXParseException, JSON errors)
                line, message, text = _describe(e)
                if src.broken is not None:  # the parser saw a cut-off text: the break is the error
                    line, message, text = None, broken_message(src.broken), ""
                errors.error(
                    f"invalid {self.name}: {message}; nothing was read from this file", path, line, text
                )
                return record
            if src.broken is not None:  # a cut that happened to fall between two statements
                errors.error(f"{broken_message(src.broken)}; nothing was read from this file", path)
                return record
        if progress is not None:
            progress(path.stat().st_size)
        ents, rels = builder.entities.ids, builder.relations.ids
        blanks: dict[BNode, str] = {}  # rdflib names blank nodes at random: number them in document order

        def key(term) -> str | None:
            if isinstance(term, URIRef):
                return str(term)
            if isinstance(term, BNode):
                if term not in blanks:
                    blanks[term] = blank_key(source_index, f"b{len(blanks)}")
                return blanks[term]
            return None

        h, r, t = [], [], []
        for s, p, o in store.in_order():
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


def _describe(e: Exception) -> tuple[int | None, str, str]:
    """``(line, message, text of the line)`` of a parser error; rdflib raises many kinds."""
    from rdflib.plugins.parsers.notation3 import BadSyntax

    if isinstance(e, BadSyntax):  # Turtle, N3, TriG: the whole text and the offset of the error
        doc, i = e._str, e._i
        start = doc.rfind(b"\n", 0, i) + 1
        stop = doc.find(b"\n", i)
        text = doc[start : stop if stop >= 0 else len(doc)].rstrip(b"\r").decode("utf-8", "replace")
        column = len(doc[start:i].decode("utf-8", "replace")) + 1
        return doc.count(b"\n", 0, i) + 1, f"{e._why} (column {column})", text
    return _error_line(e), f"{type(e).__name__}: {_short(e)}", ""


def _error_line(e: Exception) -> int | None:
    m = _LINE.search(str(e))  # "at line N" (1-based) in many of rdflib's messages
    if m:
        return int(m.group(1))
    for attr in ("lineno", "line"):
        v = getattr(e, attr, None)
        if isinstance(v, int):
            return v
    getline = getattr(e, "getLineNumber", None)  # RDF/XML: SAXParseException
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
