"""Every registered evaluation task has a test module of its own (tests/evaluation/tasks/test_<file>.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

from kemm.evaluation.tasks import EVAL_TASKS
from tests.meta import assert_every_part_tested

HERE = Path(__file__).parent


def test_every_task_has_a_test_module():
    tested = []
    for name, cls in EVAL_TASKS.items():
        module = cls.__module__.rsplit(".", 1)[-1]  # kemm/evaluation/tasks/<module>.py
        if (HERE / f"test_{module}.py").is_file():
            importlib.import_module(f"tests.evaluation.tasks.test_{module}")
            tested.append(name)
    assert_every_part_tested(EVAL_TASKS, tested)


def test_names_as_the_cli_uses_them():
    assert {"lama", "csqa", "obqa", "okvqa", "aokvqa", "linkpred", "factverify"} <= set(EVAL_TASKS.names())
    assert EVAL_TASKS.get("CommonsenseQA") is EVAL_TASKS.get("csqa")
