"""Opening sources: byte-order marks, CRLF line ends, broken gzip streams (kemm.kg.readers.source)."""

from __future__ import annotations

import gzip

import pytest

from kemm.errors import InputError
from kemm.kg import ingest
from kemm.kg.readers.source import BOM, Source

SOURCES = {  # format -> fixture holding one source of that format
    "ntriples": "rdf/tiny.nt",
    "turtle": "rdf/tiny.ttl",
    "tsv": "tsv/weighted.tsv",
    "conceptnet": "conceptnet/assertions-sample.csv",
}


def _content(kg):
    keys, rels = kg.entities.keys, kg.relations.keys
    triples = [(keys[h], rels[r], keys[t]) for h, r, t in kg.triples.tolist()]
    return keys, triples, kg.entities.labels, list(kg.attributes.rows())


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_bom_and_crlf_read_like_the_plain_file(fixtures, tmp_path, fmt):
    plain = fixtures / SOURCES[fmt]
    text = plain.read_bytes()
    assert b"\r" not in text and not text.startswith(BOM)
    windows = tmp_path / plain.name  # the name keeps the extension: same format detected
    windows.write_bytes(BOM + text.replace(b"\n", b"\r\n"))
    got, skipped = ingest([windows])
    want, _ = ingest([plain])
    assert not skipped
    assert got.meta["sources"][0]["format"] == fmt
    assert _content(got) == _content(want)
    assert not any("\ufeff" in k or "\r" in k for k in got.entities.keys + got.relations.keys)


def test_bom_does_not_hide_the_format_from_sniffing(fixtures, tmp_path):
    f = tmp_path / "tiny.data"  # unknown extension: the content decides
    f.write_bytes(BOM + (fixtures / "rdf" / "tiny.nt").read_bytes())
    kg, _ = ingest([f])
    assert kg.meta["sources"][0]["format"] == "ntriples" and kg.num_triples == 15


def _statement_lines(data: bytes) -> int:
    return sum(1 for ln in data.split(b"\n") if ln.strip() and not ln.startswith(b"#"))


def test_truncated_small_ntriples_gz_keeps_the_lines_before_the_break(fixtures, tmp_path):
    text = (fixtures / "rdf" / "tiny.nt").read_bytes()
    data = gzip.compress(text)
    broken = tmp_path / "tiny.nt.gz"
    broken.write_bytes(data[: len(data) * 2 // 3])
    with Source(broken) as src:  # what survives the cut, to know what the reader must keep
        survived = src.stream.read()
        assert src.broken is not None
    assert 0 < len(survived) < len(text) and text.startswith(survived)
    complete = survived[: survived.rfind(b"\n") + 1]
    with pytest.raises(InputError, match="broken compressed stream"):
        ingest([broken])
    kg, skipped = ingest([broken], on_error="skip", dedup=False)
    want, _ = ingest([fixtures / "rdf" / "tiny.nt"], dedup=False)
    assert len(skipped) == 1 and "broken compressed stream" in skipped[0][2]
    assert skipped[0][1] == complete.count(b"\n") + 1  # the first line not read
    n_edges = sum(1 for ln in complete.split(b"\n") if ln.strip().endswith(b"> .") and b'"' not in ln)
    assert n_edges > 0 and kg.num_triples == n_edges
    assert _content(kg)[1] == _content(want)[1][:n_edges]


@pytest.mark.parametrize("fmt", ["tsv", "conceptnet"])
def test_truncated_gz_text_formats_keep_the_lines_before_the_break(fixtures, tmp_path, fmt):
    plain = fixtures / SOURCES[fmt]
    text = plain.read_bytes() * 20
    data = gzip.compress(text)
    broken = tmp_path / (plain.name + ".gz")
    broken.write_bytes(data[: len(data) // 2])
    kg, skipped = ingest([broken], format=fmt, on_error="skip", dedup=False)
    assert len(skipped) == 1 and "broken compressed stream" in skipped[0][2]
    assert skipped[0][1] > 1 and kg.num_triples > 0


def test_concatenated_gzip_members_are_one_stream(tmp_path):
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(b"a\n") + gzip.compress(b"b\n"))
    with Source(f) as src:
        assert src.stream.read() == b"a\nb\n" and src.broken is None


def test_trailing_garbage_is_a_break(tmp_path):
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(b"a\n") + b"not gzip")
    with Source(f) as src:
        assert src.stream.read() == b"a\n" and src.broken == "trailing garbage after the compressed data"
