import numpy as np
import pytest

from kemm.errors import InputError
from kemm.kg import detect_format, ingest


def test_split_directory_keeps_given_splits(fixtures):
    d = fixtures / "tsv" / "tiny_split"
    assert detect_format(d) == "tsv"
    kg, _ = ingest([d])
    assert {k: len(v) for k, v in kg.splits.items()} == {"train": 12, "valid": 2, "test": 2}
    test = {(kg.entities.keys[h], kg.relations.keys[r], kg.entities.keys[t]) for h, r, t in kg.split("test")}
    assert test == {("banana", "used_for", "eating"), ("apple", "used_for", "eating")}
    assert kg.num_triples == 16


def test_weighted_file(fixtures):
    kg, _ = ingest([fixtures / "tsv" / "weighted.tsv"])
    assert kg.weights is not None
    np.testing.assert_allclose(kg.weights, [0.9, 1.0])


def test_wrong_column_count(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("a\tr\tb\na\tr\n\nc\tr\td\n")
    with pytest.raises(InputError, match="expected 3 tab-separated fields") as info:
        ingest([f])
    assert info.value.line == 2
    kg, skipped = ingest([f], on_error="skip")
    assert kg.num_triples == 2 and skipped[0][1] == 2


def test_not_utf8(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_bytes(b"a\tr\tb\n\xff\xfe\tr\tc\n")
    with pytest.raises(InputError, match="not UTF-8"):
        ingest([f])
