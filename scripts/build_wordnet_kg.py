#!/usr/bin/env python
"""Build the bundled WordNet 3.0 source, ``knowledge_graphs/wordnet/``.

Reads a WordNet 3.0 database directory (default ``/usr/share/wordnet``, Debian's
``wordnet-base``) with kemm's ``wordnet`` reader, then writes a redistributable copy of it:

* ``data.{noun,verb,adj,adv}.gz`` and ``index.{noun,verb,adj,adv}.gz``: the source files,
  unmodified, gzip -9 with a zero mtime and no file name (the same input gives the same bytes);
* ``LICENSE``: the license header found at the top of every WordNet data file, verbatim;
* ``README.md``: source, license, and the counts measured here.

The output directory is built under a temporary name and swapped in when complete. It is then
read again with the reader and must give the same KG as the source directory (same keys, names
and triples), otherwise the script fails. The counts go to stdout as JSON, or to ``--json PATH``.

Usage::

    python scripts/build_wordnet_kg.py [--src /usr/share/wordnet] [--out knowledge_graphs/wordnet]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers import ingest
from kemm.kg.readers.wordnet import DERIVED_FROM, POINTERS, POS_FILES, find_file
from kemm.utils.io import atomic_directory, open_binary

REPO = Path(__file__).resolve().parents[1]
CHUNK = 1 << 20

#: Relation key -> the pointer symbol it comes from (for the README table).
SYMBOLS = {p.name: s for s, p in POINTERS.items()} | {DERIVED_FROM.name: "\\"}


def license_header(path: Path) -> bytes:
    """The leading lines of a WordNet file that start with two spaces (the license), as bytes."""
    stream, raw = open_binary(path)
    lines = []
    try:
        for line in stream:
            if not line.startswith(b"  "):
                break
            lines.append(line)
    finally:
        stream.close()
        raw.close()
    return b"".join(lines)


def gzip_copy(src: Path, dst: Path) -> tuple[str, int]:
    """Write ``src`` (plain or gzipped) to ``dst`` as deterministic gzip -9 (mtime 0, no file name).

    Returns the sha256 and the size of the uncompressed content.
    """
    digest = hashlib.sha256()
    size = 0
    stream, raw = open_binary(src)
    try:
        with (
            open(dst, "wb") as out,
            gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz,
        ):
            while block := stream.read(CHUNK):
                digest.update(block)
                size += len(block)
                gz.write(block)
    finally:
        stream.close()
        raw.close()
    return digest.hexdigest(), size


def debian_version() -> str | None:
    """Installed version of Debian's ``wordnet-base``, or ``None``."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "wordnet-base"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def counts(kg: KnowledgeGraph) -> dict[str, Any]:
    """Entity, relation and triple counts, per part of speech and per relation."""
    extra = kg.meta["sources"][0]["extra"]
    per_rel = Counter(np.asarray(kg.triples)[:, 1].tolist())
    return {
        "synsets": kg.num_entities,
        "synsets_by_file": extra["synsets"],
        "relations": kg.num_relations,
        "triples": kg.num_triples,
        "pointers": extra["pointers"],
        "lexical_pointers": extra["lexical_pointers"],
        "attributes": len(kg.attributes),
        "triples_by_relation": {
            kg.relations.keys[r]: per_rel[r] for r in sorted(per_rel, key=lambda r: -per_rel[r])
        },
    }


def same_graph(a: KnowledgeGraph, b: KnowledgeGraph) -> bool:
    return (
        a.entities.keys == b.entities.keys
        and a.entities.labels == b.entities.labels
        and a.entities.descriptions == b.entities.descriptions
        and a.entities.aliases == b.entities.aliases
        and a.relations.keys == b.relations.keys
        and np.array_equal(np.asarray(a.triples), np.asarray(b.triples))
        and list(a.attributes.rows()) == list(b.attributes.rows())
    )


def readme(c: dict[str, Any], files: dict[str, tuple[str, int, int]], version: str | None) -> str:
    src = (
        f"Debian's `wordnet-base` package (version {version})"
        if version
        else "a WordNet 3.0 database directory"
    )
    by_file = c["synsets_by_file"]
    rel_rows = "\n".join(
        f"| `{name}` | `{SYMBOLS.get(name, '?')}` | {n:,} |" for name, n in c["triples_by_relation"].items()
    )
    file_rows = "\n".join(
        f"| `{name}.gz` | {gz:,} | {size:,} | `{sha}` |" for name, (sha, size, gz) in files.items()
    )
    return f"""# WordNet 3.0

Princeton WordNet 3.0, the lexical database of English, as a kemm knowledge-graph source: the
database files `data.*` and `index.*`, unmodified and gzip-compressed, taken from
{src}. kemm's `wordnet` reader reads the directory as it is:

```bash
kemm kg ingest knowledge_graphs/wordnet --out runs/kg/wordnet
```

or from Python:

```python
from kemm.kg.readers import ingest

kg, skipped = ingest(["knowledge_graphs/wordnet"])
```

## What the KG holds

* **Entities**: {c["synsets"]:,} synsets: {by_file.get("noun", 0):,} nouns, {by_file.get("verb", 0):,} verbs,
  {by_file.get("adj", 0):,} adjectives (satellites included) and {by_file.get("adv", 0):,} adverbs, keyed
  `http://wordnet-rdf.princeton.edu/wn30/{{offset}}-{{n|v|a|r}}`. Label: the first lemma; aliases:
  the other lemmas and the NLTK name (`dog.n.01`); description: the gloss; attributes
  `wn:lexname` (lexicographer file) and `wn:pos`.
* **Relations**: {c["relations"]} pointer types, keyed by name, with the pointer symbol as an alias.
  `\\` is `pertainym` from adjectives and `derived_from` from adverbs.
* **Triples**: {c["triples"]:,} unique triples from {c["pointers"]:,} pointers, {c["lexical_pointers"]:,} of
  them lexical (between words, lifted to their synsets as in WN18RR). Both directions are kept
  where WordNet stores both (`hypernym` and `hyponym`).

| relation | symbol | triples |
|---|---|---:|
{rel_rows}

## Files

| file | bytes | uncompressed bytes | sha256 of the uncompressed file |
|---|---:|---:|---|
{file_rows}

Rebuild with `python scripts/build_wordnet_kg.py` (from `/usr/share/wordnet`, or `--src DIR`).

## License

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. WordNet is distributed
under the WordNet 3.0 license, reproduced in [`LICENSE`](LICENSE) exactly as it stands at the top of
every WordNet database file (and it is still there, unmodified, in each file here). It allows use,
copying, modification and distribution for any purpose, without fee, provided the copyright notice,
statements and disclaimer appear on all copies. The name of Princeton University may not be used
in advertising or publicity about software or data derived from it.

Please cite: George A. Miller (1995). WordNet: A Lexical Database for English. *Communications of
the ACM* 38(11): 39-41; and Christiane Fellbaum (ed., 1998). *WordNet: An Electronic Lexical
Database*. Cambridge, MA: MIT Press.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--src", type=Path, default=Path("/usr/share/wordnet"), help="WordNet 3.0 database directory"
    )
    ap.add_argument(
        "--out", type=Path, default=REPO / "knowledge_graphs" / "wordnet", help="output directory"
    )
    ap.add_argument("--json", type=Path, default=None, help="write the counts here instead of to stdout")
    args = ap.parse_args(argv)

    names = [f"{kind}.{pos}" for kind in ("data", "index") for pos, _ in POS_FILES]
    sources = {name: find_file(args.src, name) for name in names}
    missing = [name for name, path in sources.items() if path is None]
    if missing:
        print(f"error: {args.src} lacks {', '.join(missing)}", file=sys.stderr)
        return 1

    t0 = time.perf_counter()
    kg, _ = ingest([args.src])
    seconds = time.perf_counter() - t0
    c = counts(kg)
    print(f"read {args.src}: {kg} in {seconds:.1f} s", file=sys.stderr)

    headers = {name: license_header(sources[name]) for name in names if name.startswith("data.")}
    header = headers["data.noun"]
    if not header or any(h != header for h in headers.values()):
        print("error: the data files do not all start with the same license header", file=sys.stderr)
        return 1

    files: dict[str, tuple[str, int, int]] = {}  # name -> (sha256, bytes, gzipped bytes)
    with atomic_directory(args.out) as tmp:
        for name in names:
            sha, size = gzip_copy(sources[name], tmp / f"{name}.gz")
            files[name] = (sha, size, (tmp / f"{name}.gz").stat().st_size)
        (tmp / "LICENSE").write_bytes(header)
        (tmp / "README.md").write_text(readme(c, files, debian_version()), encoding="utf-8", newline="\n")

    t0 = time.perf_counter()
    shipped, _ = ingest([args.out])
    if not same_graph(kg, shipped):
        print(f"error: {args.out} does not read back to the same KG as {args.src}", file=sys.stderr)
        return 1
    shipped_bytes = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    c["seconds_to_ingest"] = round(seconds, 2)
    c["shipped_bytes"] = shipped_bytes
    c["source_bytes"] = sum(size for _, size, _ in files.values())
    print(
        f"wrote {args.out}: {shipped_bytes / 2**20:.1f} MiB; it reads back to the same KG "
        f"({time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )

    text = json.dumps(c, indent=2) + "\n"
    if args.json is not None:
        args.json.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
