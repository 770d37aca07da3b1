"""CommonsenseQA and OpenBookQA JSON Lines -> :class:`MultipleChoiceExample`.

CommonsenseQA (https://www.tau-nlp.org/commonsenseqa), ``train_rand_split.jsonl``, one question a line::

    {"answerKey": "A", "id": "075e483d21c29a511267ef62bedc0461",
     "question": {"question_concept": "punishing",
                  "choices": [{"label": "A", "text": "ignore"}, ...],
                  "stem": "The sanctions against the school were a punishing blow, ..."}}

The test split (``test_rand_split_no_answers.jsonl``) has no ``answerKey``.

OpenBookQA (https://allenai.org/data/open-book-qa), ``Data/Main/train.jsonl``::

    {"id": "7-980", "question": {"stem": "The sun is responsible for",
                                 "choices": [{"text": "puppies learning new tricks", "label": "A"}, ...]},
     "answerKey": "D"}

and ``Data/Additional/train_complete.jsonl`` adds ``"fact1"`` (the open-book science fact),
``"humanScore"``, ``"clarity"`` and ``"turkIdAnonymized"``. Both are read line by line (streaming).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kemm.data.examples import MultipleChoiceExample
from kemm.data.readers.base import DATASETS, DatasetReader, get_field, iter_jsonl
from kemm.kg.readers.base import ErrorPolicy

#: OpenBookQA "additional" fields kept in ``extra``
_OBQA_EXTRA = ("humanScore", "clarity", "turkIdAnonymized")


class _JsonlMultipleChoiceReader(DatasetReader):
    """The shared layout: ``{"id", "question": {"stem", "choices": [{"label", "text"}]}, "answerKey"?}``.

    Args:
        require_answer: report a question without ``answerKey`` as bad (default: allowed, for test sets).
    """

    example_type = MultipleChoiceExample

    def __init__(self, require_answer: bool = False, **common) -> None:
        super().__init__(**common)
        self.require_answer = require_answer

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[MultipleChoiceExample]:
        for line, rec in iter_jsonl(path, errors):
            qid = get_field(rec, "id", errors, path, line, "question", (str, int))
            if qid is None:
                continue
            what = f"question {qid}"
            q = get_field(rec, "question", errors, path, line, what, dict)
            if q is None:
                continue
            stem = get_field(q, "stem", errors, path, line, what, str)
            choices = get_field(q, "choices", errors, path, line, what, list)
            if stem is None or choices is None:
                continue
            if not choices or not all(
                isinstance(c, dict) and isinstance(c.get("label"), str) and isinstance(c.get("text"), str)
                for c in choices
            ):
                errors.error(
                    f"{what}: choices should be a non-empty list of {{'label', 'text'}}",
                    path,
                    line,
                    str(choices)[:300],
                )
                continue
            labels = [c["label"] for c in choices]
            if len(set(labels)) != len(labels):
                errors.error(f"{what}: repeated choice labels {labels}", path, line)
                continue
            key = rec.get("answerKey")
            answer = None
            if key is None or key == "":
                if self.require_answer:
                    errors.error(f"{what}: no answerKey", path, line)
                    continue
            elif key not in labels:
                errors.error(
                    f"{what}: answerKey {key!r} is not one of the choice labels {labels}", path, line
                )
                continue
            else:
                answer = labels.index(key)
            example = MultipleChoiceExample(
                id=str(qid),
                question=stem.strip(),
                labels=labels,
                choices=[c["text"].strip() for c in choices],
                answer=answer,
                source=self.name,
            )
            self.extras(rec, q, example)
            yield example

    def extras(self, rec: dict, question: dict, example: MultipleChoiceExample) -> None:
        """Fill the dataset-specific fields."""


@DATASETS.register("commonsenseqa", aliases=("csqa",))
class CommonsenseQAReader(_JsonlMultipleChoiceReader):
    """CommonsenseQA JSONL; ``question_concept`` is the ConceptNet concept the question is about."""

    name = "commonsenseqa"

    @classmethod
    def matches(cls, path: Path) -> bool:
        return "_rand_split" in path.name or "_token_split" in path.name

    def extras(self, rec: dict, question: dict, example: MultipleChoiceExample) -> None:
        example.question_concept = question.get("question_concept")


@DATASETS.register("openbookqa", aliases=("obqa",))
class OpenBookQAReader(_JsonlMultipleChoiceReader):
    """OpenBookQA JSONL, main or "additional" (``fact1`` -> ``fact``; scores and annotator in ``extra``)."""

    name = "openbookqa"

    def extras(self, rec: dict, question: dict, example: MultipleChoiceExample) -> None:
        example.fact = rec.get("fact1")
        example.extra.update({k: rec[k] for k in _OBQA_EXTRA if k in rec})
