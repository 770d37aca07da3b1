"""The one resume rule: fingerprints, what changed, finished runs; applied to `kemm link batch`."""

from types import SimpleNamespace

import numpy as np
import pytest

from kemm.training.resume import (
    Fingerprint,
    ResumeMismatchError,
    check_resume,
    checksum,
    read_fingerprint,
    write_fingerprint,
)


def test_differences_name_keys_and_inputs():
    a = Fingerprint({"lr": 0.01, "model": {"dim": 8}, "betas": (0.9, 0.99)}, {"train": "a" * 64})
    b = Fingerprint({"lr": 0.01, "model": {"dim": 16}, "betas": [0.9, 0.99], "new": 1}, {"train": "b" * 64})
    assert a.differences(b) == [
        "config model.dim: 8 -> 16",
        'config new: "<unset>" -> 1',
        "input train: aaaaaaaaaaaa -> bbbbbbbbbbbb",
    ]
    assert a.differences(a) == [] and a.digest != b.digest
    with pytest.raises(ResumeMismatchError, match=r"cannot resume RUN: .*config model.dim: 8 -> 16"):
        check_resume(a, b, "RUN")
    with pytest.raises(ResumeMismatchError, match="no fingerprint"):
        check_resume(None, b, "RUN")


def test_checksums_and_storage(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("1")
    before = checksum(tmp_path / "d")
    (tmp_path / "d" / "x.txt").write_text("2")
    assert checksum(tmp_path / "d") != before
    assert checksum(np.arange(3)) != checksum(np.arange(3).reshape(1, 3)) and checksum(b"x") == checksum(b"x")
    fp = Fingerprint({"a": [1, 2]}, {"d": before})
    write_fingerprint(tmp_path / "f.json", fp)
    assert read_fingerprint(tmp_path / "f.json") == fp and read_fingerprint(tmp_path / "none.json") is None


def test_grounding_refuses_to_continue_with_other_questions_or_settings(tmp_path):
    from kemm.linking.grounding import _check_resume

    linker = SimpleNamespace(kg=SimpleNamespace(num_entities=12, num_triples=30))
    q, out = tmp_path / "q.jsonl", tmp_path / "g.jsonl"
    q.write_text('{"id": "1"}\n')
    partial = out.with_name("g.jsonl.partial")
    _check_resume(out, partial, q, 2, 200, "commonsenseqa", linker)  # a fresh run stores its fingerprint
    partial.write_text("")  # ... and is interrupted
    _check_resume(out, partial, q, 2, 200, "commonsenseqa", linker)  # same: continues
    with pytest.raises(ResumeMismatchError, match="config hops: 2 -> 3"):
        _check_resume(out, partial, q, 3, 200, "commonsenseqa", linker)
    q.write_text('{"id": "2"}\n')
    with pytest.raises(ResumeMismatchError, match="input questions"):
        _check_resume(out, partial, q, 2, 200, "commonsenseqa", linker)
