"""The answer vocabulary of knowledge VQA: built from training answers, with what falls outside it counted.

A VQA head classifies over the answers seen in training (as every VQAv2/OK-VQA classifier does);
kemm's VQA head adds a pointer over KG entities, so answers outside the vocabulary stay reachable.
Gold answers outside the vocabulary are never dropped: every question is scored by the official
soft accuracy (:func:`kemm.evaluation.metrics.vqa_soft_accuracy`) against all its human answers,
exactly as ``vqaEval.py`` scores it, and :meth:`AnswerVocabulary.out_of_vocabulary` counts the
questions none of whose human answers the classifier can produce.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kemm.data import VQAExample
from kemm.errors import KemmError
from kemm.utils.io import atomic_write


@dataclass(frozen=True)
class AnswerVocabulary:
    """Answer strings in id order (most frequent first, ties alphabetical) and their training counts.

    Answers are kept as the annotation files store them (OK-VQA and the benchmark store them
    VQA-normalised), which is what the official metric compares a prediction with.
    """

    answers: tuple[str, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_examples(cls, examples: Sequence[VQAExample], min_count: int = 1) -> AnswerVocabulary:
        """Every human answer of the training ``examples`` given at least ``min_count`` times.

        Raises:
            KemmError: no examples, or no answer reaches ``min_count``.
        """
        if not examples:
            raise KemmError("no training questions to build the answer vocabulary from")
        counts = Counter(a for ex in examples for a in ex.answers)
        kept = sorted((a for a, c in counts.items() if c >= min_count), key=lambda a: (-counts[a], a))
        if not kept:
            raise KemmError(
                f"no training answer occurs {min_count} times or more ({len(examples)} questions); "
                "lower min_count"
            )
        return cls(tuple(kept), tuple(counts[a] for a in kept))

    def __len__(self) -> int:
        return len(self.answers)

    def __contains__(self, answer: object) -> bool:
        return answer in self.index

    @property
    def index(self) -> dict[str, int]:
        """answer -> id."""
        return {a: i for i, a in enumerate(self.answers)}

    def id(self, answer: str) -> int | None:
        """The answer's id, or None when it is not in the vocabulary."""
        return self.index.get(answer)

    def out_of_vocabulary(self, examples: Sequence[VQAExample]) -> list[str]:
        """Ids of the questions none of whose human answers is in the vocabulary (the classifier
        alone cannot score on them; the KG-entity pointer may)."""
        index = self.index
        return [str(ex.question_id) for ex in examples if not any(a in index for a in ex.answers)]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_write(path) as f:
            json.dump({"answers": list(self.answers), "counts": list(self.counts)}, f, ensure_ascii=False)
        return path

    @classmethod
    def load(cls, path: str | Path) -> AnswerVocabulary:
        path = Path(path)
        if not path.is_file():
            raise KemmError(f"{path}: no such answer vocabulary file")
        d = json.loads(path.read_text(encoding="utf-8"))
        if len(d["answers"]) != len(d["counts"]) or not d["answers"]:
            raise KemmError(f"{path}: an answer vocabulary needs as many counts as answers, and answers")
        return cls(tuple(d["answers"]), tuple(int(c) for c in d["counts"]))
