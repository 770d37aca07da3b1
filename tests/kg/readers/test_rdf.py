"""Every RDF syntax states the same tiny graph; each must ingest to the same KG."""

from __future__ import annotations

import gzip
import shutil

import pytest

from kemm.errors import InputError
from kemm.kg import detect_format, ingest

RDF_FILES = {
    "turtle": "tiny.ttl",
    "ntriples": "tiny.nt",
    "nquads": "tiny.nq",
    "rdfxml": "tiny.rdf",
    "jsonld": "tiny.jsonld",
    "n3": "tiny.n3",
    "trig": "tiny.trig",
}
EX = "http://example.org/kg/"
REL = "http://example.org/rel/"


def _triple_set(kg):
    ek, rk = kg.entities.keys, kg.relations.keys

    def name(k):  # blank nodes are renamed per parse: compare them by their label
        return "_:" + kg.entities.label(kg.entities.index[k]) if k.startswith("_:") else k

    return {(name(ek[h]), rk[r], name(ek[t])) for h, r, t in kg.triples.tolist()}


@pytest.mark.parametrize("fmt", sorted(RDF_FILES))
def test_format_detected_and_same_graph(fixtures, fmt):
    path = fixtures / "rdf" / RDF_FILES[fmt]
    assert detect_format(path) == fmt
    kg, skipped = ingest([path])
    ref, _ = ingest([fixtures / "rdf" / "tiny.ttl"])
    assert not skipped
    assert _triple_set(kg) == _triple_set(ref)
    assert kg.num_triples == 15


@pytest.mark.parametrize("fmt", sorted(RDF_FILES))
def test_labels_aliases_descriptions_attributes(fixtures, fmt):
    kg, _ = ingest([fixtures / "rdf" / RDF_FILES[fmt]], lang="en")
    apple = kg.entities.index[EX + "apple"]
    assert kg.entities.labels[apple] == "apple"
    assert kg.entities.label_langs[apple] == "en"
    aliases = {(t, lang) for i, t, lang in kg.entities.aliases if i == apple}
    assert aliases == {("apples", "en"), ("pomme", "fr")}
    assert kg.entities.descriptions[apple] == "The round fruit of the apple tree."
    assert kg.entities.labels[kg.entities.index[EX + "fruit"]] == "fruit"  # skos:prefLabel
    # literals are attributes, never entities
    assert not any(k.startswith('"') or k == "52" for k in kg.entities.keys)
    assert kg.attributes.of(apple) == [
        (EX + "calories", "52", "http://www.w3.org/2001/XMLSchema#integer", "")
    ]
    # labels of properties go to the relation vocabulary, not to a new entity
    assert kg.relations.labels[kg.relations.index[REL + "IsA"]] == "is a"
    assert REL + "IsA" not in kg.entities.index


def test_preferred_language_switches_label(fixtures):
    kg, _ = ingest([fixtures / "rdf" / "tiny.ttl"], lang="fr")
    apple = kg.entities.index[EX + "apple"]
    assert (kg.entities.labels[apple], kg.entities.label_langs[apple]) == ("pomme", "fr")
    assert ("apple", "en") in {(t, lang) for i, t, lang in kg.entities.aliases if i == apple}


def test_blank_nodes_are_nodes_and_distinct_per_source(fixtures):
    kg, _ = ingest([fixtures / "rdf" / "tiny.ttl", fixtures / "rdf" / "tiny.nt"])
    blanks = [k for k in kg.entities.keys if k.startswith("_:")]
    assert len(blanks) == 2  # one per source file: blank node labels are local to a file
    assert all(kg.entities.label(kg.entities.index[b]) == "wooden handle" for b in blanks)
    # the IRIs merge, the blank-node triples do not
    assert kg.num_triples == 15 + 2


def test_merging_sources_shares_vocabulary(fixtures):
    kg, _ = ingest([fixtures / "rdf" / "tiny.ttl", fixtures / "rdf" / "tiny.rdf"])
    assert kg.num_entities == 15 + 1  # second blank node only
    assert len(kg.meta["sources"]) == 2


def test_gzipped_ntriples(fixtures, tmp_path):
    gz = tmp_path / "tiny.nt.gz"
    with open(fixtures / "rdf" / "tiny.nt", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert detect_format(gz) == "ntriples"
    kg, _ = ingest([gz])
    assert kg.num_triples == 15


def test_bad_ntriples_line_names_file_and_line(fixtures, tmp_path):
    lines = (fixtures / "rdf" / "tiny.nt").read_text().splitlines()
    lines.insert(
        5, "<http://example.org/kg/bad iri> <http://example.org/rel/IsA> <http://example.org/kg/x> ."
    )
    bad = tmp_path / "bad.nt"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        ingest([bad])
    assert info.value.line == 6 and info.value.path == str(bad)
    first_line = str(info.value).splitlines()[0]
    assert first_line == f"{bad}:6: invalid n-triples: Invalid IRI code point ' ' (column 1)"
    assert "line" not in info.value.message  # the file's line number only, not the parser's "(line 1)"


def test_skip_keeps_good_lines_and_records_bad(fixtures, tmp_path):
    lines = (fixtures / "rdf" / "tiny.nt").read_text().splitlines()
    lines.insert(3, "this is not rdf")
    lines.append('<http://example.org/kg/x> <http://example.org/rel/IsA> "unterminated .')
    bad = tmp_path / "bad.nt"
    bad.write_text("\n".join(lines) + "\n")
    kg, skipped = ingest([bad], on_error="skip")
    assert kg.num_triples == 15
    assert [(s, n) for s, n, _, _ in skipped] == [(str(bad), 4), (str(bad), len(lines))]
    assert skipped[0][3] == "this is not rdf"


def test_broken_gzip_stream(fixtures, tmp_path):
    data = gzip.compress((fixtures / "rdf" / "tiny.nt").read_bytes() * 50)
    broken = tmp_path / "broken.nt.gz"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="broken compressed stream"):
        ingest([broken])
    kg, skipped = ingest([broken], on_error="skip")
    assert len(skipped) == 1 and "broken compressed stream" in skipped[0][2]


def test_bad_turtle_reports_line(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:a ex:b .\n")
    with pytest.raises(InputError) as info:
        ingest([bad])
    assert info.value.path == str(bad)
    assert info.value.line == 3
    assert info.value.message == (
        "invalid turtle: objectList expected (column 10); nothing was read from this file"
    )
    assert info.value.text == "ex:a ex:b ."  # the line itself, not rdflib's b'...' fragments
    assert "b'" not in str(info.value)


def test_turtle_error_line_after_a_multiline_statement(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix ex: <http://example.org/> .\r\nex:a ex:b ex:c ;\r\n  ex:d ex:e ;\r\n  ex:f ex:g ex:h .\r\n"
    )
    with pytest.raises(InputError) as info:
        ingest([bad])
    assert (info.value.line, info.value.text) == (4, "  ex:f ex:g ex:h .")


def test_unknown_format_is_a_clear_error(tmp_path):
    f = tmp_path / "data.xyz"
    f.write_text("hello world\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        ingest([f])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ingest([tmp_path / "nope.nt"])
