import pytest

from kemm.data import MultipleChoiceExample, read_dataset
from kemm.errors import InputError


def test_commonsenseqa(datasets_dir):
    d = datasets_dir / "commonsenseqa"
    exs = list(read_dataset("commonsenseqa", d / "train_rand_split.jsonl"))
    assert all(isinstance(e, MultipleChoiceExample) for e in exs)
    first = exs[0]
    assert first.id == "075e483d21c29a511267ef62bedc0461" and first.question.startswith("The sanctions")
    assert first.labels == ["A", "B", "C", "D", "E"] and first.choices[3] == "yell at"
    assert (first.answer, first.answer_label, first.question_concept) == (0, "A", "punishing")
    assert (exs[1].answer, exs[1].choices[exs[1].answer]) == (1, "library")
    test = list(read_dataset("csqa", d / "test_rand_split_no_answers.jsonl"))
    assert test[0].answer is None and test[0].answer_label is None and test[0].question_concept == "townhouse"
    with pytest.raises(InputError, match="no answerKey"):
        list(read_dataset("csqa", d / "test_rand_split_no_answers.jsonl", require_answer=True))


def test_openbookqa_main_and_additional(datasets_dir):
    d = datasets_dir / "openbookqa"
    main = list(read_dataset("openbookqa", d / "Main/train.jsonl"))
    assert [(e.id, e.answer_label) for e in main] == [("7-980", "D"), ("7-584", "D")]
    assert main[0].fact is None and main[0].extra == {}
    add = list(read_dataset("obqa", d / "Additional/train_complete.jsonl"))
    assert add[0].fact == "the sun is the source of energy for physical cycles on Earth"
    assert add[0].extra == {"humanScore": 1.0, "clarity": 2.0, "turkIdAnonymized": "b356d338b7"}
    assert add[0].choices == main[0].choices


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (
            '{"id": "q1", "question": {"stem": "?", "choices": [{"label": "A", "text": "x"}]}, "answerKey": "B"}',
            r"question q1: answerKey 'B' is not one of the choice labels \['A'\]",
        ),
        (
            '{"id": "q1", "question": {"stem": "?", "choices": []}, "answerKey": "A"}',
            "choices should be a non-empty",
        ),
        (
            '{"id": "q1", "question": {"choices": [{"label": "A", "text": "x"}]}}',
            "question q1: missing field 'stem'",
        ),
        ('{"id": "q1", "question": "What?"}', "field 'question' should be dict"),
        ('{"id": "q1", "question": {"stem": "?", "choices": [{"label": "A", "text": "x"},', "not JSON"),
    ],
)
def test_bad_lines(datasets_dir, tmp_path, line, match):
    good = (datasets_dir / "commonsenseqa/train_rand_split.jsonl").read_text().splitlines()
    bad = tmp_path / "dev_rand_split.jsonl"
    bad.write_text("\n".join([good[0], line, good[1]]) + "\n")
    with pytest.raises(InputError, match=match) as e:
        list(read_dataset("commonsenseqa", bad))
    assert (e.value.path, e.value.line) == (str(bad), 2)
    stream = read_dataset("commonsenseqa", bad, on_error="skip")
    assert len(list(stream)) == 2 and [s[1] for s in stream.skipped] == [2]
