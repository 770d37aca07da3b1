"""Streaming N-Triples / N-Quads reader (plain or gzipped) on pyoxigraph's Rust parser.

No rdflib ``Graph`` is built: the file is read in blocks of whole lines, each block is parsed by
pyoxigraph and its terms are mapped straight to integer ids. A block that fails to parse is
parsed again line by line, so a bad line is reported with its number (and, under
``--on-error skip``, skipped while the rest of the block is kept).
"""

from __future__ import annotations

import array
import gc
import zlib
from pathlib import Path

import pyoxigraph as ox

from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.rdfterms import NAME_PREDICATES, blank_key, plain_datatype
from kemm.utils.io import open_binary

BLOCK_BYTES = 1 << 22  # 4 MiB of text per parser call


class _LineRdfReader(Reader):
    ox_format: ox.RdfFormat

    def read(self, path: Path, builder: KGBuilder, errors: ErrorPolicy,
             progress: ProgressFn | None = None) -> SourceRecord:
        record = SourceRecord(str(path), self.name)
        source_index = len(builder.sources)
        stream, raw = open_binary(path)
        line_no = 1  # number of the first line of the current block
        pending = b""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived term objects: the cyclic GC only costs time here
        try:
            while True:
                try:
                    data = stream.read(BLOCK_BYTES)
                except (OSError, EOFError, zlib.error) as e:
                    errors.error(f"broken compressed stream ({e}); lines after this one were not read",
                                 path, line_no + pending.count(b"\n"))
                    break
                if not data:
                    block, pending = pending, b""
                    if not block:
                        break
                else:
                    data = pending + data
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:
                        pending = data
                        continue
                    block, pending = data[:cut], data[cut:]
                self._parse_block(block, line_no, path, builder, errors, record, source_index)
                line_no += block.count(b"\n")
                if progress is not None:
                    progress(raw.tell())
                if not data:
                    break
        finally:
            if gc_was_enabled:
                gc.enable()
            stream.close()
            raw.close()
        return record

    def _parse_block(self, block: bytes, first_line: int, path: Path, builder: KGBuilder,
                     errors: ErrorPolicy, record: SourceRecord, source_index: int) -> None:
        try:
            quads = list(ox.parse(input=block, format=self.ox_format))
        except SyntaxError:
            quads = []
            for offset, line in enumerate(block.split(b"\n")):
                if not line.strip():
                    continue
                try:
                    quads.extend(ox.parse(input=line, format=self.ox_format))
                except SyntaxError as e:
                    msg = str(e).split(": ", 1)[-1] if "Parser error" in str(e) else str(e)
                    errors.error(f"invalid {self.name}: {msg}", path, first_line + offset,
                                 line.decode("utf-8", errors="replace"))
        self._add(quads, builder, record, source_index)

    @staticmethod
    def _add(quads: list, builder: KGBuilder, record: SourceRecord, source_index: int) -> None:
        ents = builder.entities.ids
        rels = builder.relations.ids
        h = array.array("q")
        r = array.array("q")
        t = array.array("q")
        ha, ra, ta = h.append, r.append, t.append
        NamedNode, BlankNode, Literal = ox.NamedNode, ox.BlankNode, ox.Literal  # noqa: N806
        n_attr = 0
        for q in quads:
            s, p, o = q.subject, q.predicate, q.object
            ts, to = type(s), type(o)
            if ts is NamedNode:
                skey = s.value
            elif ts is BlankNode:
                skey = blank_key(source_index, s.value)
            else:  # RDF-star quoted triple as subject: not a KG node
                continue
            if to is NamedNode:
                ha(ents[skey])
                ra(rels[p.value])
                ta(ents[o.value])
            elif to is Literal:
                pred = p.value
                kind = NAME_PREDICATES.get(pred)
                lang = o.language or ""
                if kind is not None:
                    builder.add_name(skey, kind, o.value, lang)
                else:
                    builder.add_attribute(ents[skey], pred, o.value, plain_datatype(o.datatype.value), lang)
                    n_attr += 1
            elif to is BlankNode:
                ha(ents[skey])
                ra(rels[p.value])
                ta(ents[blank_key(source_index, o.value)])
        record.triples += builder.add_triples(h, r, t)
        record.attributes += n_attr


@READERS.register("ntriples", aliases=("nt", "n-triples"))
class NTriplesReader(_LineRdfReader):
    """N-Triples (``.nt``, optionally ``.nt.gz``)."""

    name = "ntriples"
    extensions = (".nt", ".ntriples")
    ox_format = ox.RdfFormat.N_TRIPLES

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        first = _first_statement(head)
        return first is not None and first.startswith((b"<", b"_:")) and _terms(first) == 3


@READERS.register("nquads", aliases=("nq", "n-quads"))
class NQuadsReader(_LineRdfReader):
    """N-Quads (``.nq``, optionally gzipped); the graph name is not kept."""

    name = "nquads"
    extensions = (".nq", ".nquads")
    ox_format = ox.RdfFormat.N_QUADS

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        first = _first_statement(head)
        return first is not None and first.startswith((b"<", b"_:")) and _terms(first) == 4


def _first_statement(head: bytes) -> bytes | None:
    for line in head.split(b"\n")[:-1] if b"\n" in head else [head]:
        s = line.strip()
        if s and not s.startswith(b"#"):
            return s
    return None


def _terms(line: bytes) -> int:
    try:
        q = next(iter(ox.parse(input=line, format=ox.RdfFormat.N_QUADS)))
    except (SyntaxError, StopIteration):
        return 0
    return 4 if not isinstance(q.graph_name, ox.DefaultGraph) else 3
