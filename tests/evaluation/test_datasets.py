"""Examples for evaluation: read through kemm.data, selected by an ids file, never empty."""

from __future__ import annotations

import pytest

from kemm.errors import InputError, KemmError
from kemm.evaluation.datasets import example_id, load_examples, read_ids

CSQA = "commonsenseqa/train_rand_split.jsonl"
IDS = ("075e483d21c29a511267ef62bedc0461", "61fe6e879ff18686d7552425a36344c8")


def test_reads_the_real_format(fixtures):
    examples = load_examples("commonsenseqa", fixtures / "datasets" / CSQA)
    assert [example_id(e) for e in examples] == list(IDS)


def test_an_ids_file_selects_an_in_house_split(fixtures, tmp_path):
    (tmp_path / "ids.txt").write_text(f"# QA-GNN style in-house split\n{IDS[1]}\n\n")
    examples = load_examples("csqa", fixtures / "datasets" / CSQA, ids_file=tmp_path / "ids.txt")
    assert [e.id for e in examples] == [IDS[1]]


def test_unknown_and_repeated_ids_are_errors(fixtures, tmp_path):
    (tmp_path / "ids.txt").write_text(f"{IDS[0]}\nnope\nnada\n")
    with pytest.raises(InputError, match="2 of 3 ids are not in the dataset .2 examples.*'nope'"):
        load_examples("csqa", fixtures / "datasets" / CSQA, ids_file=tmp_path / "ids.txt")
    (tmp_path / "rep.txt").write_text("a\nb\na\n")
    with pytest.raises(InputError, match="rep.txt:3: id 'a' repeats line 1"):
        read_ids(tmp_path / "rep.txt")


def test_an_empty_dataset_is_an_error_not_a_zero(tmp_path):
    (tmp_path / "train_rand_split.jsonl").write_text("")
    with pytest.raises(KemmError, match="holds no examples"):
        load_examples("commonsenseqa", tmp_path / "train_rand_split.jsonl")


def test_vqa_ids_are_strings(fixtures):
    ok = fixtures / "datasets" / "okvqa"
    examples = load_examples(
        "okvqa", ok / "OpenEnded_mscoco_val2014_questions.json", images_dir=ok / "val2014"
    )
    assert [example_id(e) for e in examples] == ["1390", "1391"]
