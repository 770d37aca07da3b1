"""Tab-separated triple files, as the link-prediction benchmarks ship them.

One triple per line, ``head<TAB>relation<TAB>tail`` with an optional fourth column of weights
(FB15k-237, WN18RR, PyKEEN's UMLS/Kinships/Nations). A directory holding ``train``/``valid``/``test``
files (``.txt``/``.tsv``, optionally gzipped; ``dev``/``validation`` accepted for ``valid``) is read
as one KG whose splits are kept exactly as given.
"""

from __future__ import annotations

import io
from pathlib import Path

from kemm.kg.builder import NO_SPLIT, KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.source import Source, broken_message

SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "dev": "valid",
    "test": "test",
}
TRIPLE_SUFFIXES = (".txt", ".tsv", ".txt.gz", ".tsv.gz")


def split_files(directory: Path) -> dict[str, Path]:
    """``{"train": path, "valid": path, "test": path}`` found in ``directory`` (may be partial)."""
    found: dict[str, Path] = {}
    for f in sorted(directory.iterdir()):
        name = f.name.lower()
        for suffix in TRIPLE_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in SPLIT_NAMES:
                found.setdefault(SPLIT_NAMES[name[: -len(suffix)]], f)
    return found


@READERS.register("tsv", aliases=("triples", "txt"))
class TsvReader(Reader):
    """Tab-separated ``head relation tail [weight]`` lines; a file or a train/valid/test directory."""

    name = "tsv"
    extensions = (".tsv", ".txt", ".triples")

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return "train" in split_files(path)
        lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()]
        return bool(lines) and all(ln.count(b"\t") in (2, 3) for ln in lines[:20])

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        record = SourceRecord(str(path), self.name)
        if path.is_dir():
            files = split_files(path)
            if "train" not in files:
                errors.error("directory has no train file (train.txt or train.tsv)", path)
                return record
            done = 0
            for split, f in files.items():
                size = f.stat().st_size
                cb = (lambda n, _d=done: progress(_d + n)) if progress else None
                self._read_file(f, builder, errors, record, split, cb)
                done += size
                record.extra.setdefault("splits", {})[split] = f.name
        else:
            self._read_file(path, builder, errors, record, NO_SPLIT, progress)
        return record

    def _read_file(
        self,
        path: Path,
        builder: KGBuilder,
        errors: ErrorPolicy,
        record: SourceRecord,
        split: str,
        progress: ProgressFn | None,
    ) -> None:
        ents, rels = builder.entities.ids, builder.relations.ids
        h: list[int] = []
        r: list[int] = []
        t: list[int] = []
        w: list[float] = []
        weighted = False
        src = Source(path)
        text = io.TextIOWrapper(src.stream, encoding="utf-8", errors="strict", newline="\n")
        lineno = 0
        try:
            while True:
                try:
                    line = text.readline()
                except UnicodeDecodeError as e:
                    errors.error(
                        f"not UTF-8 ({e.reason}); lines after this one were not read", path, lineno + 1
                    )
                    break
                if not line.endswith("\n") and src.broken is not None:
                    errors.error(broken_message(src.broken), path, lineno + 1)  # drop the unfinished line
                    break
                if not line:
                    break
                lineno += 1
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                cells = line.split("\t")
                if len(cells) not in (3, 4) or not all(c.strip() for c in cells[:3]):
                    errors.error(
                        f"expected 3 tab-separated fields (head, relation, tail) or 4 with a weight, "
                        f"found {len(cells)}",
                        path,
                        lineno,
                        line,
                    )
                    continue
                weight = 1.0
                if len(cells) == 4:
                    try:
                        weight = float(cells[3])
                    except ValueError:
                        errors.error(f"weight {cells[3]!r} is not a number", path, lineno, line)
                        continue
                    weighted = True
                h.append(ents[cells[0].strip()])
                r.append(rels[cells[1].strip()])
                t.append(ents[cells[2].strip()])
                w.append(weight)
                if progress is not None and lineno % 65536 == 0:
                    progress(src.raw.tell())
        finally:
            text.close()
            src.close()
        record.triples += builder.add_triples(h, r, t, weights=w if weighted else None, split=split)
        if progress is not None:
            progress(path.stat().st_size)
