"""Where each task's data lies in a benchmark built by ``kemm data make-benchmark``, and its held-out entities.

The layout is the one the benchmark's README describes: ``lama/{split}.jsonl`` (LAMA ConceptNet
layout) with ``lama/vocab.txt``, ``csqa/{split}.jsonl`` (CommonsenseQA),
``okvqa/OpenEnded_kemm_{split}_questions.json`` + ``okvqa/kemm_{split}_annotations.json``
(OK-VQA) with images ``images/{split}/kemm_{split}_{image_id:012d}.jpg``, and ``stats.json``
(chance levels, held-out entities). Besides ``train``, ``val`` and ``test``, a benchmark may hold
``test_seen``: questions about entities seen in training, the "seen" side of a seen/held-out
comparison (every ``val`` and ``test`` question is about a held-out entity).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemm.data.benchmark.config import ALL_SPLITS as SPLITS
from kemm.errors import KemmError


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset file and how to read it: ``read_dataset(format, path, **options)``."""

    format: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)


class Benchmark:
    """A benchmark directory: dataset files per task and split, held-out entities, ``stats.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        stats = self.root / "stats.json"
        if not stats.is_file():
            raise KemmError(
                f"{self.root}: not a kemm benchmark (no stats.json; build one with `kemm data make-benchmark`)"
            )
        self.stats: dict[str, Any] = json.loads(stats.read_text(encoding="utf-8"))

    def has(self, task: str, split: str) -> bool:
        """Whether the benchmark holds ``task``'s file for ``split`` (older ones have no ``test_seen``)."""
        try:
            self.dataset(task, split)
        except KemmError:
            return False
        return True

    def dataset(self, task: str, split: str) -> DatasetSpec:
        """The file of ``task`` (``lama``, ``csqa``, ``okvqa``) for ``split``."""
        if split not in SPLITS:
            raise KemmError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if task == "lama":
            spec = DatasetSpec("lama", self.root / "lama" / f"{split}.jsonl")
        elif task in ("csqa", "commonsenseqa"):
            spec = DatasetSpec("commonsenseqa", self.root / "csqa" / f"{split}.jsonl")
        elif task == "okvqa":
            spec = DatasetSpec(
                "okvqa",
                self.root / "okvqa" / f"OpenEnded_kemm_{split}_questions.json",
                {
                    "images_dir": self.root / "images" / split,
                    "image_template": f"kemm_{split}_{{image_id:012d}}.jpg",
                },
            )
        else:
            raise KemmError(f"the benchmark has no {task!r} data (it has lama, csqa, okvqa)")
        if not spec.path.is_file():
            raise KemmError(f"{spec.path}: missing from the benchmark")
        return spec

    @property
    def cloze_vocabulary(self) -> Path:
        return self.root / "lama" / "vocab.txt"

    def heldout(self, split: str) -> set[str]:
        """KG keys of the entities held out for ``split`` (empty for train)."""
        return set(self.stats.get("heldout", {}).get(split, []))

    def chance(self, task: str, split: str) -> float:
        """The chance level ``stats.json`` states (computed by :mod:`kemm.evaluation.metrics`)."""
        c = self.stats["chance"]
        if task in ("csqa", "commonsenseqa"):
            return float(c["mc"]["accuracy"])
        if task == "lama":
            return float(c["cloze"][split]["accuracy"])
        if task == "okvqa":
            return float(c["vqa"][split]["overall"]["uniform"])
        raise KemmError(f"no chance level for task {task!r}")

    def vqa_train_prior(self, split: str) -> float:
        """The VQA baseline of ``stats.json``: the per-question-type answer prior learnt from train."""
        return float(self.stats["chance"]["vqa"][split]["overall"]["train_prior"])
