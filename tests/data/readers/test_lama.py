import pytest

from kemm.data import MASK, ClozeExample, read_dataset
from kemm.data.readers.lama import subset_of
from kemm.errors import InputError


@pytest.fixture
def lama(datasets_dir):
    return datasets_dir / "lama"


def test_trex(lama):
    exs = list(read_dataset("lama-trex", lama / "TREx/P19.jsonl"))
    assert all(isinstance(e, ClozeExample) for e in exs)
    tokyo, paris = exs
    assert (tokyo.answer, tokyo.subject, tokyo.relation, tokyo.source) == (
        "Tokyo",
        "Hiroshi Ikezawa",
        "P19",
        "TREx",
    )
    assert (tokyo.subject_uri, tokyo.object_uri) == ("Q5977062", "Q1490")
    assert tokyo.masked_sentences == ["Hiroshi Ikezawa was born in [MASK], Japan in 1940."]
    assert len(paris.masked_sentences) == 2 and paris.extra["sub_surfaces"] == ["Pascal", "Blaise Pascal"]


def test_google_re(lama):
    (ex,) = read_dataset("lama-google-re", lama / "Google_RE/place_of_birth_test.jsonl")
    assert (ex.answer, ex.subject, ex.relation) == (
        "Lebanon",
        "Khatchig Mouradian",
        "/people/person/place_of_birth",
    )
    assert (ex.subject_uri, ex.object_uri, ex.source) == ("/m/0hn9xs0", "/m/0dplh", "Google_RE")
    assert len(ex.extra["judgments"]) == 5 and MASK in ex.masked_sentences[0]


def test_conceptnet(lama):
    alive, pen = read_dataset("lama-conceptnet", lama / "ConceptNet/test.jsonl")
    assert (alive.answer, alive.subject, alive.relation, alive.source) == (
        "think",
        "alive",
        "HasSubevent",
        "ConceptNet",
    )
    assert "negated" not in alive.extra and pen.extra["negated"] == ["A pen is not used for [MASK]."]


def test_squad(lama):
    (ex,) = read_dataset("lama-squad", lama / "Squad/test.jsonl")
    assert (ex.id, ex.answer, ex.subject, ex.relation, ex.source) == (
        "56be4db0acb8001400a502f0_0",
        "gold",
        "Squad",
        None,
        "Squad",
    )


@pytest.mark.parametrize(
    ("rel", "subset"),
    [
        ("TREx/P19.jsonl", "TREx"),
        ("Google_RE/place_of_birth_test.jsonl", "Google_RE"),
        ("ConceptNet/test.jsonl", "ConceptNet"),
        ("Squad/test.jsonl", "Squad"),
    ],
)
def test_lama_tells_the_subset_per_line(lama, rel, subset):
    assert {e.source for e in read_dataset("lama", lama / rel)} == {subset}


def test_subset_of():
    assert subset_of({"uuid": 1}) is None


def test_wrong_subset_and_missing_mask(lama, tmp_path):
    with pytest.raises(InputError, match="TREx line without .*evidences") as e:
        list(read_dataset("lama-trex", lama / "ConceptNet/test.jsonl"))
    assert e.value.line == 1
    bad = tmp_path / "test.jsonl"
    lines = (lama / "ConceptNet/test.jsonl").read_text().splitlines()
    bad.write_text(lines[0].replace("[MASK]", "thinking") + "\n" + lines[1] + "\n")
    with pytest.raises(InputError, match=r"masked sentence without \[MASK\]") as e:
        list(read_dataset("lama", bad))
    assert e.value.line == 1
    stream = read_dataset("lama", bad, on_error="skip")
    assert [x.answer for x in stream] == ["write"] and len(stream.skipped) == 1
