"""ConceptNet 5 assertions (``conceptnet-assertions-5.7.0.csv.gz``).

Each line holds five tab-separated fields: assertion URI, relation URI, start URI, end URI and a
JSON object with ``weight``, ``dataset``, ``sources`` and more. Concept URIs are normalised:
``/c/en/hot_dog/n/wn/food`` becomes the entity ``hot_dog`` (label "hot dog"), dropping the
part of speech and sense, so that all senses of a term are one node, as in KagNet and QA-GNN.
With a language filter (``--lang en``) only edges whose two ends are in that language are kept;
``--lang all`` keeps every language and keys concepts as ``/c/<lang>/<term>``. Duplicate edges
left after normalisation keep their largest weight. Ends that are not concepts (the URLs of
``/r/ExternalURL``) are kept as entity attributes.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.kg.readers.source import Source, broken_message

_WEIGHT = re.compile(r'"weight":\s*(-?[0-9.]+(?:[eE][-+]?\d+)?)')


def parse_concept(uri: str) -> tuple[str, str] | None:
    """``/c/en/hot_dog/n/wn/food`` -> ``("en", "hot_dog")``; ``None`` if ``uri`` is no concept URI."""
    if not uri.startswith("/c/"):
        return None
    parts = uri.split("/")  # ['', 'c', lang, term, pos?, ...]
    if len(parts) < 4 or not parts[2] or not parts[3]:
        return None
    return parts[2], parts[3]


@READERS.register("conceptnet", aliases=("conceptnet5",))
class ConceptNetReader(Reader):
    """ConceptNet 5 assertions CSV (tab-separated, usually gzipped)."""

    name = "conceptnet"
    extensions = (".csv",)

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return head.startswith(b"/a/[")

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        lang = self.options.get("lang", "en")
        lang = None if lang in (None, "", "all", "*") else lang
        record = SourceRecord(str(path), self.name, extra={"lang": lang or "all", "filtered": 0})
        ents, rels = builder.entities.ids, builder.relations.ids
        labelled: set[int] = set()
        h: list[int] = []
        r: list[int] = []
        t: list[int] = []
        w: list[float] = []
        src = Source(path)
        text = io.TextIOWrapper(src.stream, encoding="utf-8", newline="\n")
        lineno = 0
        filtered = 0

        def concept_id(c_lang: str, term: str) -> int:
            key = term if lang else f"/c/{c_lang}/{term}"
            i = ents[key]
            if i not in labelled:
                labelled.add(i)
                builder.entities.add_label(i, term.replace("_", " "), c_lang)
            return i

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
                if not line:
                    continue
                cells = line.split("\t")
                if len(cells) != 5 or not cells[0].startswith("/a/") or not cells[1].startswith("/r/"):
                    errors.error(
                        "expected 5 tab-separated fields: /a/ assertion, /r/ relation, start, end, JSON",
                        path,
                        lineno,
                        line,
                    )
                    continue
                _, rel, start, end, info = cells
                s = parse_concept(start)
                if s is None:
                    errors.error(f"start {start!r} is not a /c/ concept URI", path, lineno, line)
                    continue
                if lang is not None and s[0] != lang:
                    filtered += 1
                    continue
                o = parse_concept(end)
                if o is None:
                    builder.add_attribute(concept_id(*s), rel, end)
                    record.attributes += 1
                    continue
                if lang is not None and o[0] != lang:
                    filtered += 1
                    continue
                m = _WEIGHT.search(info)
                if m is not None:
                    weight = float(m.group(1))
                else:
                    try:
                        weight = float(json.loads(info).get("weight", 1.0))
                    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
                        errors.error("the fifth field is not a JSON object", path, lineno, line)
                        continue
                h.append(concept_id(*s))
                r.append(rels[rel[3:]])
                t.append(concept_id(*o))
                w.append(weight)
                if progress is not None and lineno % 65536 == 0:
                    progress(src.raw.tell())
        finally:
            text.close()
            src.close()
        record.triples += builder.add_triples(h, r, t, weights=w)
        record.extra["filtered"] = filtered
        if progress is not None:
            progress(path.stat().st_size)
        return record
