"""The examples a task evaluates, read through :func:`kemm.data.read_dataset`.

Adds what evaluation needs on top of the readers: one id per example whatever the format
(:func:`example_id`), a file of ids selecting an in-house split (QA-GNN's CommonsenseQA split is
a list of question ids out of the official train set), and an error instead of an empty dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kemm.data import ClozeExample, MultipleChoiceExample, VQAExample, read_dataset
from kemm.errors import InputError, KemmError

logger = logging.getLogger(__name__)

Example = ClozeExample | MultipleChoiceExample | VQAExample


def example_id(example: Any) -> str:
    """The example's dataset id as a string (``question_id`` for VQA, ``id`` otherwise)."""
    if isinstance(example, VQAExample):
        return str(example.question_id)
    return str(example.id)


def read_ids(path: str | Path) -> list[str]:
    """Question ids, one a line (blank lines and ``#`` comments ignored); repeats are an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such ids file", path)
    ids: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if text in seen:
            raise InputError(f"id {text!r} repeats line {seen[text]}", path, lineno)
        seen[text] = lineno
        ids.append(text)
    if not ids:
        raise InputError("the ids file lists no ids", path)
    return ids


def select_ids(examples: Sequence[Any], ids: Sequence[str], source: str | Path | None = None) -> list[Any]:
    """The examples whose id is in ``ids``, in the order of ``ids``.

    Raises:
        InputError: an id names no example (the count and a few of them are given).
    """
    by_id = {example_id(e): e for e in examples}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5])
        raise InputError(
            f"{len(unknown)} of {len(ids)} ids are not in the dataset ({len(by_id)} examples), e.g. {shown}",
            source,
        )
    return [by_id[i] for i in ids]


def load_examples(
    dataset_format: str,
    path: str | Path,
    ids_file: str | Path | None = None,
    **options: Any,
) -> list[Any]:
    """Every example of ``path`` read as ``dataset_format``, optionally restricted to the ids in ``ids_file``.

    Args:
        dataset_format: a :data:`kemm.data.DATASETS` name (``"lama"``, ``"commonsenseqa"``, ``"okvqa"``, ...).
        ids_file: a file of example ids (see :func:`read_ids`) selecting an in-house split.
        **options: the reader's options (``images_dir``, ``check_images``, ...).

    Raises:
        KemmError: the dataset holds no example (an empty file is never scored as 0).
        InputError: an id of ``ids_file`` is not in the dataset; a repeated example id.
    """
    examples = list(read_dataset(dataset_format, path, **options))
    if not examples:
        raise KemmError(f"{path}: the dataset ({dataset_format}) holds no examples; nothing to evaluate")
    ids = [example_id(e) for e in examples]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InputError(f"example id {dup!r} occurs more than once; ids must identify examples", path)
    if ids_file is not None:
        examples = select_ids(examples, read_ids(ids_file), ids_file)
        logger.info("%s: %d of %d examples selected by %s", path, len(examples), len(ids), ids_file)
    return examples
