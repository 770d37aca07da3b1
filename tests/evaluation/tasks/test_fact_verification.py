"""``factverify``: balanced true/corrupted statements, type-consistent corruptions, KGE thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from kemm.errors import KemmError
from kemm.evaluation.facts import Fact
from kemm.evaluation.tasks import EVAL_TASKS
from kemm.evaluation.tasks.fact_verification import (
    _best_threshold,
    make_statements,
    score_fact_verification,
)
from kemm.kg import ingest

TSV = "apple\tIsA\tfruit\nbanana\tIsA\tfruit\nknife\tIsA\ttool\nhammer\tIsA\ttool\ncar\tHasA\twheel\n"


@pytest.fixture
def kg(tmp_path):
    (tmp_path / "kg.tsv").write_text(TSV)
    g, _ = ingest([tmp_path / "kg.tsv"], format="tsv")
    return g


def test_statements_are_balanced_and_corruptions_type_consistent(kg):
    facts = [Fact("f1", "apple", "IsA", ("fruit",)), Fact("f2", "car", "HasA", ("wheel",))]
    st = make_statements(kg, facts, seed=0)
    # car HasA has no other object to corrupt with: left out with its true statement
    assert [s.id for s in st] == ["f1/true", "f1/false"] and [s.label for s in st] == [True, False]
    false = st[1]
    assert kg.entities.keys[false.tail] == "tool" and false.text == "apple IsA tool."
    assert make_statements(kg, facts, seed=0) == st
    assert EVAL_TASKS.get("fact-verification").metric == "accuracy"


def test_accuracy_per_relation(kg):
    st = make_statements(kg, [Fact("f1", "apple", "IsA", ("fruit",)), Fact("f2", "knife", "IsA", ("tool",))])
    decisions = {s.id: True for s in st}  # "everything is true" scores chance
    res, preds = score_fact_verification(st, decisions, kg, heldout={"knife"})
    assert res.metrics == {"accuracy": 0.5} and res.per_relation["IsA"]["count"] == 4
    assert res.groups["heldout"] == {"accuracy": 0.5, "count": 2}
    with pytest.raises(KemmError, match="1 statements have no decision"):
        score_fact_verification(st, {s.id: True for s in st[1:]}, kg)


def test_threshold_and_bad_input(kg):
    assert _best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) == 0.5
    with pytest.raises(KemmError, match="outside the KG"):
        make_statements(kg, [Fact("f", "zebra", "IsA", ("animal",))])
    with pytest.raises(KemmError, match="no facts"):
        make_statements(kg, [])
