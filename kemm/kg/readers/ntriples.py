"""Streaming N-Triples / N-Quads reader (plain or gzipped) on pyoxigraph's Rust parser.

No rdflib ``Graph`` is built. The file is read in blocks of whole lines (4 MiB); pyoxigraph parses
each block and its terms are mapped to block-local ids, then merged into the KG's vocabularies
with one dictionary look-up per *distinct* term of the block. With ``workers > 1`` the blocks are
parsed in worker processes while the main process merges, in file order, so the ids and the result
are the same as with one worker. At most ``2 * workers`` blocks are in flight, so memory stays
bounded whatever the file size.

A block that fails to parse is parsed again line by line, so a bad line is reported with its
number (and, under ``--on-error skip``, skipped while the rest of the block is kept).
"""

from __future__ import annotations

import array
import gc
import logging
import multiprocessing
import os
import re
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyoxigraph as ox

from kemm.errors import KemmError
from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.rdfterms import NAME_PREDICATES, blank_key, plain_datatype
from kemm.kg.readers.source import Source, broken_message

logger = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 22  # 4 MiB of text per parser call
PARALLEL_MIN_BYTES = 16 << 20  # smaller files are not worth starting worker processes for


@dataclass
class ParsedBlock:
    """One block of lines, parsed, with block-local ids (picklable: it crosses process boundaries).

    Attributes:
        first_line: line number of the block's first line in the file.
        keys: node keys (IRIs, or per-source blank-node keys) in first-seen order; local id = index.
        predicates: predicate IRIs in first-seen order.
        h, r, t: local ids of the triples, int64 bytes.
        names: ``(key, kind, text, lang)`` for labels, aliases and descriptions (of nodes or predicates).
        attributes: ``(local node id, predicate, value, datatype, lang)`` for other literals.
        bad: ``(line, message, text)`` for each line that did not parse.
    """

    first_line: int
    keys: list[str] = field(default_factory=list)
    predicates: list[str] = field(default_factory=list)
    h: bytes = b""
    r: bytes = b""
    t: bytes = b""
    names: list[tuple[str, str, str, str]] = field(default_factory=list)
    attributes: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    bad: list[tuple[int, str, str]] = field(default_factory=list)
    global_ids: bool = False  # ids are already the builder's (in-process parsing), not block-local


_OX_WHERE = re.compile(r"^Parser error at line \d+ (?:column (\d+)|between columns (\d+) and \d+): ")


def syntax_message(e: SyntaxError) -> str:
    """pyoxigraph's message without its line number (the caller knows the line in the file), with
    the column: ``"Parser error at line 1 column 23: X (line 1)"`` -> ``"X (column 23)"``."""
    msg = e.msg or str(e)
    m = _OX_WHERE.match(msg)
    if m is None:
        return msg
    return f"{msg[m.end() :]} (column {m.group(1) or m.group(2)})"


def _init_worker(parent: int) -> None:
    """Initialiser of the parsing processes.

    Ctrl-C is the main process's to handle (it stops the workers); a worker that took it too would
    print a traceback of its own. A worker whose main process is killed (``kill -9``: no clean-up
    runs there) ends with it instead of waiting for work forever (Linux; elsewhere it waits).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when the parent dies
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before prctl() was in place
            os._exit(1)


def _result(future: Future) -> ParsedBlock:
    """``future.result()``, waking up now and then: a Ctrl-C that the operating system delivers to
    another thread is only acted on when the main thread runs, and it would wait forever."""
    while True:
        try:
            return future.result(timeout=0.2)
        except FutureTimeout:
            continue


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (on an error or Ctrl-C), not after the blocks they are parsing."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()


class _LocalIds(dict):
    __slots__ = ()

    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


def parse_block(
    block: bytes, first_line: int, fmt: str, source_index: int, builder: KGBuilder | None = None
) -> ParsedBlock:
    """Parse ``block`` (whole lines of N-Triples or N-Quads); ``fmt`` names an ``ox.RdfFormat``.

    With ``builder`` (in-process parsing), terms map straight to the builder's ids; without, to
    block-local ids that :meth:`_LineRdfReader._apply` merges.
    """
    ox_format = getattr(ox.RdfFormat, fmt)
    vocab = (
        (builder.entities.ids, builder.relations.ids) if builder is not None else (_LocalIds(), _LocalIds())
    )
    out = ParsedBlock(first_line, global_ids=builder is not None)
    try:
        _map_terms(ox.parse(input=block, format=ox_format), out, source_index, *vocab)
        return out
    except SyntaxError:
        # start again, line by line, to locate the bad lines (ids given on the way are reused)
        out = ParsedBlock(first_line, global_ids=builder is not None)
    quads: list = []
    for offset, line in enumerate(block.split(b"\n")):
        if not line.strip():
            continue
        try:
            quads.extend(ox.parse(input=line, format=ox_format))
        except SyntaxError as e:
            out.bad.append(
                (
                    first_line + offset,
                    f"invalid {fmt.lower().replace('_', '-')}: {syntax_message(e)}",
                    line.rstrip(b"\r").decode("utf-8", errors="replace"),
                )
            )
    _map_terms(quads, out, source_index, *vocab)
    return out


def _map_terms(quads, out: ParsedBlock, source_index: int, keys: dict, preds: dict) -> None:
    """Fill ``out`` from ``quads``; ``quads`` may be a lazy parser that raises part-way.

    ``keys``/``preds`` assign ids on look-up (``__missing__``).
    """
    h, r, t = array.array("q"), array.array("q"), array.array("q")
    ha, ra, ta = h.append, r.append, t.append
    NamedNode, BlankNode, Literal = ox.NamedNode, ox.BlankNode, ox.Literal  # noqa: N806
    rest = []
    for q in quads:  # hot loop: IRI -> IRI statements take the first branch
        o = q.object
        if type(o) is NamedNode:
            s = q.subject
            if type(s) is NamedNode:
                ha(keys[s.value])
                ra(preds[q.predicate.value])
                ta(keys[o.value])
                continue
        rest.append(q)
    for q in rest:  # literals, blank nodes, RDF-star
        s, p, o = q.subject, q.predicate, q.object
        ts, to = type(s), type(o)
        if ts is NamedNode:
            skey = s.value
        elif ts is BlankNode:
            skey = blank_key(source_index, s.value)
        else:  # a quoted triple as subject is not a KG node
            continue
        if to is Literal:
            pred = p.value
            kind = NAME_PREDICATES.get(pred)
            lang = o.language or ""
            if kind is not None:
                out.names.append((skey, kind, o.value, lang))
            else:
                out.attributes.append((keys[skey], pred, o.value, plain_datatype(o.datatype.value), lang))
        elif to is NamedNode or to is BlankNode:
            ha(keys[skey])
            ra(preds[p.value])
            ta(keys[o.value if to is NamedNode else blank_key(source_index, o.value)])
    if not out.global_ids:
        out.keys = list(keys)
        out.predicates = list(preds)
    out.h, out.r, out.t = h.tobytes(), r.tobytes(), t.tobytes()


class _LineRdfReader(Reader):
    """Options: ``workers`` (int; 0 = automatic: one per CPU, at most 4, for files over 16 MiB)."""

    ox_format_name: str

    def _workers(self, path: Path) -> int:
        n = int(self.options.get("workers", 0) or 0)
        if n > 0:
            return n
        if path.stat().st_size < PARALLEL_MIN_BYTES:
            return 1
        return max(
            1,
            min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1),
        )

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        record = SourceRecord(str(path), self.name)
        source_index = len(builder.sources)
        workers = self._workers(path)  # not in the record: the store must not depend on the machine
        logger.debug("%s: parsing with %d process(es)", path, workers)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived term objects: the cyclic GC only costs time here
        try:
            items = self._blocks(path)
            if workers == 1:
                for item in items:
                    self._merge(item, source_index, path, builder, errors, record, progress)
            else:
                self._read_parallel(items, workers, source_index, path, builder, errors, record, progress)
        finally:
            if gc_was_enabled:
                gc.enable()
        return record

    def _read_parallel(self, items, workers, source_index, path, builder, errors, record, progress) -> None:
        """Parse blocks in ``workers`` processes, at most ``2 * workers`` in flight; merge in file order."""
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),))
        try:
            window: deque = deque()
            for item in items:
                if isinstance(item[0], bytes):
                    block, first, pos = item
                    window.append(
                        (pool.submit(parse_block, block, first, self.ox_format_name, source_index), pos)
                    )
                else:
                    window.append((item, None))
                while len(window) > 2 * workers:
                    self._merge_ready(window.popleft(), source_index, path, builder, errors, record, progress)
            while window:
                self._merge_ready(window.popleft(), source_index, path, builder, errors, record, progress)
        except BrokenProcessPool:
            _terminate(pool)
            raise KemmError(
                f"{path}: a parsing process ended abruptly (killed by a signal or out of memory); "
                "nothing was read (--workers 1 parses in this process)"
            ) from None
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown()

    def _blocks(self, path: Path) -> Iterator[tuple]:
        """Yield ``(block_bytes, first_line, file_position)``, or ``("error", message, line)`` once on a
        broken compressed stream (after the lines before the break; the unfinished line is dropped)."""
        line_no = 1
        pending = b""
        with Source(path) as src:
            while True:
                data = src.stream.read(BLOCK_BYTES)
                if not data:
                    if src.broken is not None:
                        yield ("error", broken_message(src.broken), line_no)
                    elif pending:
                        yield pending, line_no, src.raw.tell()
                    return
                data = pending + data
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data
                    continue
                block, pending = data[:cut], data[cut:]
                yield block, line_no, src.raw.tell()
                line_no += block.count(b"\n")

    def _merge_ready(self, entry, source_index, path, builder, errors, record, progress) -> None:
        item, pos = entry
        if pos is None:
            self._merge(item, source_index, path, builder, errors, record, progress)
        else:
            self._apply(_result(item), path, builder, errors, record)
            if progress is not None:
                progress(pos)

    def _merge(self, item, source_index, path, builder, errors, record, progress) -> None:
        if item[0] == "error":
            errors.error(item[1], path, item[2])
            return
        block, first, pos = item
        self._apply(
            parse_block(block, first, self.ox_format_name, source_index, builder),
            path,
            builder,
            errors,
            record,
        )
        if progress is not None:
            progress(pos)

    @staticmethod
    def _apply(
        pb: ParsedBlock, path: Path, builder: KGBuilder, errors: ErrorPolicy, record: SourceRecord
    ) -> None:
        for line, message, text in pb.bad:
            errors.error(message, path, line, text)
        if pb.global_ids:
            h, r, t = (np.frombuffer(x, dtype=np.int64) for x in (pb.h, pb.r, pb.t))
            record.triples += builder.add_triples(h, r, t)
            for key, kind, text, lang in pb.names:
                builder.add_name(key, kind, text, lang)
            builder.attributes.extend(pb.attributes)
            record.attributes += len(pb.attributes)
            return
        ids = np.fromiter(map(builder.entities.ids.__getitem__, pb.keys), dtype=np.int64, count=len(pb.keys))
        rids = np.fromiter(
            map(builder.relations.ids.__getitem__, pb.predicates), dtype=np.int64, count=len(pb.predicates)
        )
        h = ids[np.frombuffer(pb.h, dtype=np.int64)]
        r = rids[np.frombuffer(pb.r, dtype=np.int64)]
        t = ids[np.frombuffer(pb.t, dtype=np.int64)]
        record.triples += builder.add_triples(h, r, t)
        for key, kind, text, lang in pb.names:
            builder.add_name(key, kind, text, lang)
        if pb.attributes:
            ids_list = ids.tolist()
            builder.attributes.extend((ids_list[i], p, v, d, lg) for i, p, v, d, lg in pb.attributes)
            record.attributes += len(pb.attributes)


@READERS.register("ntriples", aliases=("nt", "n-triples"))
class NTriplesReader(_LineRdfReader):
    """N-Triples (``.nt``, optionally ``.nt.gz``)."""

    name = "ntriples"
    extensions = (".nt", ".ntriples")
    ox_format_name = "N_TRIPLES"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        first = _first_statement(head)
        return first is not None and first.startswith((b"<", b"_:")) and _terms(first) == 3


@READERS.register("nquads", aliases=("nq", "n-quads"))
class NQuadsReader(_LineRdfReader):
    """N-Quads (``.nq``, optionally gzipped); the graph name is not kept."""

    name = "nquads"
    extensions = (".nq", ".nquads")
    ox_format_name = "N_QUADS"

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
