"""On-disk layout of a knowledge graph, written atomically and loaded memory-mapped.

A KG directory holds::

    meta.json              format version, counts, sources with checksums, file checksums
    entities.tsv           id, key, label, lang, description        (header row, escaped TSV)
    entity_aliases.tsv     id, alias, lang
    relations.tsv          id, key, label, lang, description
    relation_aliases.tsv   id, alias, lang
    attributes.tsv         entity, predicate, value, datatype, lang (literal-valued statements)
    triples.npy            int32 (num_triples, 3): head, relation, tail
    weights.npy            float32 (num_triples,), only for weighted graphs
    splits/<name>.npy      int64 indices into triples.npy (train/valid/test)
    skipped.tsv            records skipped under ``--on-error skip``: source, line, reason, text

``meta.json`` is written last and the directory is built under a temporary name and renamed into
place, so a crash never leaves a directory that loads but is incomplete. The temporary directory
is locked while it is built; the next save into the same place removes those that no live
process holds (what a killed ingest left).

The same sources read with the same options give a byte-identical directory: ``meta.json`` says
what was read (each source's path as given, size and SHA-256) and never when, how fast or on
which machine, so that entity ids, files and checksums can be compared across re-ingests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from kemm.errors import InputError, KemmError
from kemm.kg.graph import Attributes, KnowledgeGraph
from kemm.kg.vocab import Vocabulary
from kemm.utils.io import atomic_directory, atomic_write, sha256_file, tsv_escape, tsv_unescape

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
VOCAB_HEADER = ["id", "key", "label", "lang", "description"]
ALIAS_HEADER = ["id", "alias", "lang"]
ATTR_HEADER = ["entity", "predicate", "value", "datatype", "lang"]
SKIP_HEADER = ["source", "line", "reason", "text"]
_SINGULAR = {"entities": "entity", "relations": "relation"}


def _write_tsv(path: Path, header: list[str], rows) -> None:
    """Write ``rows`` (tuples; ``None`` cells as empty) under ``header``, escaped (``tsv_escape``)."""
    rows = [["" if x is None else str(x) for x in row] for row in rows]
    _write_columns(path, header, [list(c) for c in zip(*rows)] if rows else [[] for _ in header])


_SPECIAL = ("\\", "\t", "\n", "\r")
_ROWS_PER_WRITE = 1 << 16


def _escaped(column) -> list[str]:
    """The cells of ``column`` (all ``str``, or all ``int``) as escaped text."""
    if isinstance(column, range) or (len(column) and not isinstance(column[0], str)):
        return list(map(str, column))  # ids: nothing to escape
    if any(c in "".join(column) for c in _SPECIAL):  # one scan in C instead of four tests a cell
        return [tsv_escape(c) for c in column]
    return column


def _write_columns(path: Path, header: list[str], columns) -> None:
    """Write equal-length ``columns`` (each all ``str`` or all ``int``) as rows under ``header``."""
    cols = [_escaped(c) for c in columns]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        n = len(cols[0]) if cols else 0
        for start in range(0, n, _ROWS_PER_WRITE):
            part = [c[start : start + _ROWS_PER_WRITE] for c in cols]
            f.write("\n".join(map("\t".join, zip(*part))) + "\n")


def _read_tsv(path: Path, header: list[str]):
    with open(path, encoding="utf-8", newline="\n") as f:
        first = f.readline().rstrip("\n").split("\t")
        if first != header:
            raise InputError(f"expected header {header}, found {first}", path, 1)
        for lineno, line in enumerate(f, start=2):
            cells = line.rstrip("\n").split("\t")
            if len(cells) != len(header):
                raise InputError(f"expected {len(header)} columns, found {len(cells)}", path, lineno, line)
            yield lineno, [tsv_unescape(c) for c in cells]


def _write_vocab(d: Path, name: str, vocab: Vocabulary) -> None:
    _write_columns(
        d / f"{name}.tsv",
        VOCAB_HEADER,
        [range(len(vocab)), vocab.keys, vocab.labels, vocab.label_langs, vocab.descriptions],
    )
    _write_tsv(d / f"{_SINGULAR[name]}_aliases.tsv", ALIAS_HEADER, vocab.aliases)


def _read_vocab(d: Path, name: str) -> Vocabulary:
    path = d / f"{name}.tsv"
    v = Vocabulary()
    for lineno, (i, key, label, lang, desc) in _read_tsv(path, VOCAB_HEADER):
        if int(i) != len(v.keys):
            raise InputError(f"ids must be 0..n-1 in order; expected {len(v.keys)}, found {i}", path, lineno)
        v.keys.append(key)
        v.labels.append(label)
        v.label_langs.append(lang)
        v.descriptions.append(desc)
    v.aliases = [
        (int(i), text, lang)
        for _, (i, text, lang) in _read_tsv(d / f"{_SINGULAR[name]}_aliases.tsv", ALIAS_HEADER)
    ]
    return v


def save_kg(
    kg: KnowledgeGraph, path: str | Path, skipped: list[tuple[str, int | None, str, str]] | None = None
) -> Path:
    """Write ``kg`` to directory ``path`` atomically (replacing an existing one only on success)."""
    path = Path(path)
    if path.exists() and not ((path / "meta.json").is_file() or _is_empty_dir(path)):
        raise InputError("exists and is not a KG directory; not replaced (remove it or choose another)", path)
    with _build_directory(path) as d:
        _write_vocab(d, "entities", kg.entities)
        _write_vocab(d, "relations", kg.relations)
        a = kg.attributes
        _write_columns(
            d / "attributes.tsv", ATTR_HEADER, [a.entity, a.predicate, a.value, a.datatype, a.lang]
        )
        np.save(d / "triples.npy", np.ascontiguousarray(kg.triples, dtype=np.int32))
        if kg.weights is not None:
            np.save(d / "weights.npy", np.asarray(kg.weights, dtype=np.float32))
        if kg.splits:
            (d / "splits").mkdir()
            for name, idx in kg.splits.items():
                np.save(d / "splits" / f"{name}.npy", np.asarray(idx, dtype=np.int64))
        if skipped:
            _write_tsv(d / "skipped.tsv", SKIP_HEADER, skipped)
        meta = dict(kg.meta)
        meta.update(_counts(kg))
        meta["format_version"] = FORMAT_VERSION
        meta["skipped"] = len(skipped or [])
        meta["files"] = {str(f.relative_to(d)): sha256_file(f) for f in sorted(d.rglob("*")) if f.is_file()}
        with open(d / "meta.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, ensure_ascii=False)
            f.write("\n")
    kg.path = path
    return path


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and next(path.iterdir(), None) is None


@contextlib.contextmanager
def _build_directory(path: Path) -> Iterator[Path]:
    """:func:`~kemm.utils.io.atomic_directory`, with the temporary directory locked until it is
    renamed into place, and the temporaries of killed saves of ``path`` removed."""
    locks = []
    try:
        with atomic_directory(path) as d:
            fd = _lock_directory(d)
            if fd is not None:
                locks.append(fd)
            remove_stale_temporaries(path)
            yield d
    finally:
        for fd in locks:
            os.close(fd)


#: A temporary directory this young and still empty may belong to a save that has not locked it yet.
_GRACE_SECONDS = 10.0


def _lock_directory(d: Path) -> int | None:
    """Hold an exclusive lock on directory ``d``; the operating system releases it when the process
    ends, however it ends. Returns the descriptor to close, or ``None`` where locks are unavailable."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: temporaries are then never removed by a later save
        return None
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process (or the filesystem cannot lock)
        os.close(fd)
        return None
    return fd


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove what killed saves of ``path`` left beside it; returns the directories removed.

    A ``.NAME.tmp-*`` directory is removed when no live process holds its lock; a ``.NAME.old-*``
    one (a previous version kept during the swap) when ``path`` itself exists.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for p in sorted(path.parent.iterdir()):
        if not p.is_dir() or p.is_symlink():
            continue
        if p.name.startswith(f".{path.name}.tmp-"):
            fd = _lock_directory(p)
            if fd is None:
                continue
            try:
                young = time.time() - p.stat().st_mtime < _GRACE_SECONDS
                if young and not any(p.iterdir()):
                    continue
                shutil.rmtree(p, ignore_errors=True)
            finally:
                os.close(fd)
        elif p.name.startswith(f".{path.name}.old-") and path.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            continue
        logger.info("removed %s, left by an interrupted save", p)
        removed.append(p)
    return removed


def _counts(kg: KnowledgeGraph) -> dict:
    return {
        "num_entities": kg.num_entities,
        "num_relations": kg.num_relations,
        "num_triples": kg.num_triples,
        "num_attributes": len(kg.attributes),
        "num_aliases": len(kg.entities.aliases),
        "weighted": kg.weights is not None,
        "splits": {k: int(len(v)) for k, v in kg.splits.items()},
    }


def load_kg(path: str | Path, mmap: bool = True, verify: bool = False) -> KnowledgeGraph:
    """Load a KG directory. ``verify=True`` recomputes every file's checksum against ``meta.json``."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not path.is_dir():
        raise KemmError(f"{path}: no such KG directory (create one with `kemm kg ingest`)")
    if not meta_path.exists():
        raise KemmError(f"{path}: not a complete KG directory (meta.json is missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"meta.json is not valid JSON: {e.msg}", meta_path, e.lineno) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise KemmError(f"{meta_path}: format_version {meta.get('format_version')} is not {FORMAT_VERSION}")
    if verify:
        for name, digest in meta.get("files", {}).items():
            f = path / name
            if not f.exists():
                raise KemmError(f"{f}: listed in meta.json but missing")
            if sha256_file(f) != digest:
                raise KemmError(f"{f}: checksum does not match meta.json (the file changed or is corrupt)")
    mode: Literal["r"] | None = "r" if mmap else None
    triples = np.load(path / "triples.npy", mmap_mode=mode)
    weights = np.load(path / "weights.npy", mmap_mode=mode) if (path / "weights.npy").exists() else None
    splits = {}
    if (path / "splits").is_dir():
        splits = {f.stem: np.load(f) for f in sorted((path / "splits").glob("*.npy"))}
    attrs = Attributes()
    for _, (ent, p, v, dt, lang) in _read_tsv(path / "attributes.tsv", ATTR_HEADER):
        attrs.entity.append(int(ent))
        attrs.predicate.append(p)
        attrs.value.append(v)
        attrs.datatype.append(dt)
        attrs.lang.append(lang)
    kg = KnowledgeGraph(
        entities=_read_vocab(path, "entities"),
        relations=_read_vocab(path, "relations"),
        triples=triples,
        weights=weights,
        attributes=attrs,
        splits=splits,
        meta=meta,
        path=path,
    )
    for key, actual in (
        ("num_entities", kg.num_entities),
        ("num_relations", kg.num_relations),
        ("num_triples", kg.num_triples),
    ):
        if meta.get(key) != actual:
            raise KemmError(f"{meta_path}: {key} is {meta.get(key)} but the files hold {actual}")
    return kg


def read_skipped(path: str | Path) -> list[tuple[str, int | None, str, str]]:
    f = Path(path) / "skipped.tsv"
    if not f.exists():
        return []
    return [(s, int(n) if n else None, r, t) for _, (s, n, r, t) in _read_tsv(f, SKIP_HEADER)]


def save_splits(kg: KnowledgeGraph, splits: dict[str, np.ndarray], extra_meta: dict | None = None) -> None:
    """Replace the splits of the KG directory ``kg.path`` atomically and update its ``meta.json``."""
    if kg.path is None:
        raise KemmError("save_splits needs a KG loaded from a directory")
    with _build_directory(kg.path / "splits") as d:
        for name, idx in splits.items():
            np.save(d / f"{name}.npy", np.asarray(idx, dtype=np.int64))
    kg.splits = dict(splits)
    meta = dict(kg.meta)
    meta["splits"] = {k: int(len(v)) for k, v in splits.items()}
    if extra_meta:
        meta.update(extra_meta)
    files = {k: v for k, v in meta.get("files", {}).items() if not k.startswith("splits/")}
    for name in splits:
        files[f"splits/{name}.npy"] = sha256_file(kg.path / "splits" / f"{name}.npy")
    meta["files"] = dict(sorted(files.items()))
    with atomic_write(kg.path / "meta.json") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    kg.meta = meta
