"""The VQA answer vocabulary: from training answers; gold answers outside it counted, never dropped."""

from __future__ import annotations

import pytest

from kemm.data import ImageRef, VQAExample
from kemm.errors import KemmError
from kemm.evaluation.answers import AnswerVocabulary


def _q(qid, answers):
    return VQAExample(question_id=qid, image_id=1, image=ImageRef(key="x"), question="?", answers=answers)


TRAIN = [_q(1, ["wood"] * 6 + ["metal"] * 4), _q(2, ["metal"] * 3 + ["surf"])]


def test_most_frequent_first_ties_alphabetical():
    vocab = AnswerVocabulary.from_examples(TRAIN)
    assert vocab.answers == ("metal", "wood", "surf") and vocab.counts == (7, 6, 1)
    assert vocab.id("wood") == 1 and vocab.id("plastic") is None and "surf" in vocab


def test_min_count():
    assert AnswerVocabulary.from_examples(TRAIN, min_count=5).answers == ("metal", "wood")
    with pytest.raises(KemmError, match="lower min_count"):
        AnswerVocabulary.from_examples(TRAIN, min_count=50)
    with pytest.raises(KemmError, match="no training questions"):
        AnswerVocabulary.from_examples([])


def test_out_of_vocabulary_questions_are_counted():
    vocab = AnswerVocabulary.from_examples(TRAIN, min_count=5)
    test = [_q(7, ["wood"] * 10), _q(8, ["plastic"] * 9 + ["metal"]), _q(9, ["ski"] * 10)]
    # question 8 has one in-vocabulary human answer: the classifier can still score 0.3 on it
    assert vocab.out_of_vocabulary(test) == ["9"]


def test_save_load(tmp_path):
    vocab = AnswerVocabulary.from_examples(TRAIN)
    assert AnswerVocabulary.load(vocab.save(tmp_path / "answers.json")) == vocab
