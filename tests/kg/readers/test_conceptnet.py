import gzip
import shutil

import pytest

from kemm.errors import InputError
from kemm.kg import detect_format, ingest
from kemm.kg.readers.conceptnet import parse_concept


@pytest.fixture
def sample_gz(fixtures, tmp_path):
    gz = tmp_path / "conceptnet-assertions-5.7.0.csv.gz"
    with open(fixtures / "conceptnet" / "assertions-sample.csv", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return gz


def test_parse_concept():
    assert parse_concept("/c/en/hot_dog/n/wn/food") == ("en", "hot_dog")
    assert parse_concept("/c/fr/couteau") == ("fr", "couteau")
    assert parse_concept("http://dbpedia.org/resource/Knife") is None


def _triples(kg):
    return {
        (kg.entities.keys[h], kg.relations.keys[r], kg.entities.keys[t]) for h, r, t in kg.triples.tolist()
    }


def test_english_filter_normalisation_and_weights(sample_gz):
    assert detect_format(sample_gz) == "conceptnet"
    kg, skipped = ingest([sample_gz], lang="en")
    assert not skipped
    t = _triples(kg)
    assert ("hot_dog", "IsA", "sandwich") in t
    assert ("knife", "UsedFor", "cut") in t
    assert ("jazz_band", "dbpedia/genre", "jazz") in t
    assert not any("couteau" in k or "outil" in k for k in kg.entities.keys)  # French edges filtered
    # /c/en/hot_dog/n and /c/en/hot_dog/n/wn/food collapse into one edge; the larger weight is kept
    assert sum(1 for h, r, tl in t if (h, r) == ("hot_dog", "IsA")) == 1
    i = [
        k
        for k, (h, r, tl) in enumerate(kg.triples.tolist())
        if (kg.entities.keys[h], kg.relations.keys[r]) == ("hot_dog", "IsA")
    ][0]
    assert kg.weights[i] == pytest.approx(2.0)
    hot_dog = kg.entity_id("hot dog")
    assert kg.entities.keys[hot_dog] == "hot_dog" and kg.entities.labels[hot_dog] == "hot dog"
    # the ExternalURL end is kept as an attribute of knife
    assert kg.attributes.of(kg.entity_id("knife")) == [
        ("/r/ExternalURL", "http://dbpedia.org/resource/Knife", "", "")
    ]
    assert kg.meta["sources"][0]["extra"]["filtered"] == 2


def test_all_languages_keep_language_in_key(sample_gz):
    kg, _ = ingest([sample_gz], lang="all")
    assert "/c/fr/couteau" in kg.entities.index
    assert ("/c/en/knife", "Synonym", "/c/fr/couteau") in _triples(kg)


def test_malformed_line(fixtures, tmp_path):
    lines = (fixtures / "conceptnet" / "assertions-sample.csv").read_text().splitlines()
    lines.insert(2, "/a/[/r/IsA/,/c/en/x/]\t/r/IsA\t/c/en/x")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="expected 5 tab-separated fields") as info:
        ingest([bad], format="conceptnet")
    assert info.value.line == 3
    kg, skipped = ingest([bad], format="conceptnet", on_error="skip")
    assert [n for _, n, _, _ in skipped] == [3]
    assert kg.num_triples == 8  # 12 rows: 2 French, 1 URL attribute, 1 duplicate after normalisation
