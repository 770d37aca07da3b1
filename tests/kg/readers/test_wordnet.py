"""WordNet 3.0 database reader, on a 12-synset fixture in the real ``wndb(5WN)`` format.

Fixture (``tests/fixtures/wordnet``, byte offsets real): nouns entity, animal, dog, dog (a man),
runner; verbs travel, run (with frames); adjectives fast, slow, canine(a), satellite speedy;
adverb quickly. 18 pointers, 6 of them lexical, in 7 relations.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from kemm.errors import InputError
from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers import detect_format, ingest
from kemm.kg.readers.wordnet import SYNSET_IRI, parse_data_line

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "wordnet"
REAL_WORDNET = Path("/usr/share/wordnet")

DOG = SYNSET_IRI + "00002078-n"
DOG_MAN = SYNSET_IRI + "00002275-n"
ANIMAL = SYNSET_IRI + "00001930-n"
RUNNER = SYNSET_IRI + "00002365-n"
RUN = SYNSET_IRI + "00001899-v"
SPEEDY = SYNSET_IRI + "00001997-a"
CANINE = SYNSET_IRI + "00002146-a"
QUICKLY = SYNSET_IRI + "00001740-r"


def triples_of(kg: KnowledgeGraph) -> set[tuple[str, str, str]]:
    e, r = kg.entities.keys, kg.relations.keys
    return {(e[h], r[p], e[t]) for h, p, t in np.asarray(kg.triples).tolist()}


def aliases(kg: KnowledgeGraph, key: str) -> set[str]:
    i = kg.entities.index[key]
    return {text for j, text, _ in kg.entities.aliases if j == i}


def attrs(kg: KnowledgeGraph, key: str) -> dict[str, str]:
    return {p: v for p, v, _, _ in kg.attributes.of(kg.entities.index[key])}


def copy_fixture(tmp_path: Path) -> Path:
    d = tmp_path / "wn"
    shutil.copytree(FIXTURE, d)
    return d


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="ascii")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="ascii")


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    graph, skipped = ingest([FIXTURE])
    assert skipped == []
    return graph


def test_fixture_offsets_are_byte_offsets():
    for f in sorted(FIXTURE.glob("data.*")):
        data = f.read_bytes()
        pos = 0
        for line in data.splitlines(keepends=True):
            if not line.startswith(b"  "):
                assert int(line[:8]) == pos, f"{f.name} at byte {pos}"
            pos += len(line)


def test_counts(kg):
    assert (kg.num_entities, kg.num_relations, kg.num_triples) == (12, 7, 18)
    extra = kg.meta["sources"][0]["extra"]
    assert extra["synsets"] == {"noun": 5, "verb": 2, "adj": 4, "adv": 1}
    assert extra["pointers"] == 18
    assert extra["lexical_pointers"] == 6
    assert extra["nltk_names"] == 12
    assert extra["offset_mismatches"] == 0
    assert len(kg.attributes) == 24
    assert sorted(kg.relations.keys) == [
        "antonym",
        "derivationally_related_form",
        "derived_from",
        "hypernym",
        "hyponym",
        "pertainym",
        "similar_to",
    ]


def test_synset_names(kg):
    i = kg.entities.index[DOG]
    assert kg.entities.labels[i] == "dog"
    assert kg.entities.label_langs[i] == "en"
    assert aliases(kg, DOG) == {"domestic dog", "Canis familiaris", "dog.n.01"}
    assert kg.entities.descriptions[i].startswith("a member of the genus Canis")
    assert kg.entities.descriptions[i].endswith('"the dog barked all night"')
    assert attrs(kg, DOG) == {"wn:lexname": "noun.animal", "wn:pos": "n"}
    # second sense of "dog" in index.noun
    assert kg.entities.labels[kg.entities.index[DOG_MAN]] == "dog"
    assert aliases(kg, DOG_MAN) == {"dog.n.02"}
    assert kg.entity_id("dog.n.02") == kg.entities.index[DOG_MAN]
    # adjective marker stripped from label and NLTK name
    assert kg.entities.labels[kg.entities.index[CANINE]] == "canine"
    assert aliases(kg, CANINE) == {"canine.a.01"}


def test_relation_names(kg):
    r = kg.relations.index["derivationally_related_form"]
    assert kg.relations.labels[r] == "derivationally related form"
    assert kg.relation_id("+") == r
    assert kg.relation_id("hypernym") == kg.relation_id("@")


def test_triples(kg):
    t = triples_of(kg)
    assert (DOG, "hypernym", ANIMAL) in t
    assert (ANIMAL, "hyponym", DOG) in t  # both directions, as WordNet stores them
    assert (RUNNER, "derivationally_related_form", RUN) in t  # lexical pointer lifted to synsets
    assert (RUN, "derivationally_related_form", RUNNER) in t
    assert (CANINE, "pertainym", DOG) in t
    assert (QUICKLY, "derived_from", SPEEDY) in t


def test_satellite_adjective(kg):
    assert SPEEDY in kg.entities.index
    assert SYNSET_IRI + "00001997-s" not in kg.entities.index
    i = kg.entities.index[SPEEDY]
    assert kg.entities.labels[i] == "speedy"
    assert aliases(kg, SPEEDY) == {"rapid", "speedy.s.01"}
    assert attrs(kg, SPEEDY) == {"wn:lexname": "adj.all", "wn:pos": "s"}
    assert (SPEEDY, "similar_to", SYNSET_IRI + "00001740-a") in triples_of(kg)


def test_malformed_line_raises_with_file_and_line(tmp_path):
    d = copy_fixture(tmp_path)
    # line 31 is animal (29 header lines, then entity): p_cnt says 5 pointers, only 2 follow
    replace_in(d / "data.noun", "beast 0 002 @", "beast 0 005 @")
    with pytest.raises(InputError) as info:
        ingest([d])
    assert info.value.line == 31
    assert f"{d / 'data.noun'}:31:" in str(info.value)
    assert "p_cnt" in str(info.value)


def test_malformed_line_skipped(tmp_path):
    d = copy_fixture(tmp_path)
    replace_in(d / "data.noun", "beast 0 002 @", "beast 0 005 @")
    graph, skipped = ingest([d], on_error="skip")
    assert len(skipped) == 1
    source, line, reason, text = skipped[0]
    assert (source, line) == (str(d / "data.noun"), 31)
    assert "p_cnt" in reason and text.startswith("00001930 05 n 03 animal")
    assert graph.num_triples == 16  # animal's 2 pointers are gone
    assert graph.meta["sources"][0]["skipped"] == 1


def test_unknown_pointer_symbol(tmp_path):
    d = copy_fixture(tmp_path)
    replace_in(d / "data.verb", "+ 00002365 n 0101", "?? 00002365 n 0101")
    with pytest.raises(InputError, match="unknown pointer symbol"):
        ingest([d])
    graph, skipped = ingest([d], on_error="skip")
    assert [(s[0], s[1]) for s in skipped] == [(str(d / "data.verb"), 31)]
    assert graph.num_triples == 17  # only that pointer dropped; the synset stays
    assert graph.entities.labels[graph.entities.index[RUN]] == "run"


def test_parse_data_line_verb_frames():
    syn = parse_data_line(
        "00001899 38 v 01 run 0 002 @ 00001740 v 0000 + 00002365 n 0101 01 + 02 00 | move", "verb"
    )
    assert syn.lemmas == ["run"] and syn.gloss == "move"
    assert syn.pointers == [("@", "00001740", "v", "0000"), ("+", "00002365", "n", "0101")]


def test_gzipped_data_files(tmp_path, kg):
    d = copy_fixture(tmp_path)
    # data.noun.gz by name, data.verb gzipped under its plain name
    with gzip.open(d / "data.noun.gz", "wb") as f:
        f.write((d / "data.noun").read_bytes())
    (d / "data.noun").unlink()
    (d / "data.verb").write_bytes(gzip.compress((d / "data.verb").read_bytes()))
    assert detect_format(d) == "wordnet"
    graph, _ = ingest([d])
    assert graph.entities.keys == kg.entities.keys
    assert triples_of(graph) == triples_of(kg)
    assert graph.meta["sources"][0]["extra"]["data_files"] == [
        "data.noun.gz",
        "data.verb",
        "data.adj",
        "data.adv",
    ]


def test_detect_format():
    assert detect_format(FIXTURE) == "wordnet"


def test_partial_directory_without_index(tmp_path):
    d = tmp_path / "nouns"
    d.mkdir()
    shutil.copy(FIXTURE / "data.noun", d)
    graph, _ = ingest([d])
    assert graph.num_entities == 5
    assert graph.num_triples == 8  # runner + run dropped: no data.verb
    extra = graph.meta["sources"][0]["extra"]
    assert extra["pointers_to_missing_files"] == 1 and extra["nltk_names"] == 0
    assert aliases(graph, DOG) == {"domestic dog", "Canis familiaris"}


def test_progress_reports_bytes(tmp_path):
    seen: list[int] = []
    ingest([FIXTURE], progress=lambda _path, n: seen.append(n))
    total = sum(f.stat().st_size for f in FIXTURE.iterdir() if f.name.startswith(("data.", "index.")))
    assert seen and seen == sorted(seen) and seen[-1] == total


def test_save_load_round_trip(tmp_path, kg):
    kg.save(tmp_path / "kg")
    back = KnowledgeGraph.load(tmp_path / "kg")
    assert back.entities.keys == kg.entities.keys
    assert back.entities.labels == kg.entities.labels
    assert back.entities.descriptions == kg.entities.descriptions
    assert sorted(back.entities.aliases) == sorted(kg.entities.aliases)
    assert back.relations.keys == kg.relations.keys
    assert back.relations.labels == kg.relations.labels
    assert np.array_equal(np.asarray(back.triples), np.asarray(kg.triples))
    assert sorted(back.attributes.rows()) == sorted(kg.attributes.rows())


@pytest.mark.slow
@pytest.mark.skipif(
    not (REAL_WORDNET / "data.noun").exists(), reason="WordNet 3.0 (wordnet-base) not installed"
)
def test_real_wordnet():
    graph, skipped = ingest([REAL_WORDNET])
    assert skipped == []
    assert graph.num_entities == 117_659
    assert graph.num_relations == 27
    extra = graph.meta["sources"][0]["extra"]
    assert extra["synsets"] == {"noun": 82_115, "verb": 13_767, "adj": 18_156, "adv": 3_621}
    assert extra["offset_mismatches"] == 0 and extra["nltk_names"] == 117_659
    dog = graph.entity_id("dog.n.01")
    assert graph.entities.keys[dog] == SYNSET_IRI + "02084071-n"
    assert graph.entities.labels[dog] == "dog"
