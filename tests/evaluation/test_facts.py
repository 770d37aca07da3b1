"""The fact-removed setting on a hand-written KG: every evaluated fact goes, both ways where inverse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kemm.data import ClozeExample, ImageRef, MultipleChoiceExample, VQAExample
from kemm.errors import KemmError
from kemm.evaluation.facts import (
    Fact,
    fact_edge_tests,
    find_inverse_relations,
    read_facts,
    remove_evaluated_facts,
)
from kemm.kg import KnowledgeGraph, ingest

TSV = """\
apple\tIsA\tfruit
banana\tIsA\tfruit
apple\tAtLocation\tkitchen
knife\tAtLocation\tkitchen
wheel\tPartOf\tcar
car\tHasA\twheel
door\tPartOf\tcar
car\tHasA\tdoor
hot\tAntonym\tcold
cold\tAntonym\thot
knife\tUsedFor\tcutting
apple\tRelatedTo\tknife
"""


@pytest.fixture
def kg(tmp_path):
    (tmp_path / "kg.tsv").write_text(TSV)
    g, _ = ingest([tmp_path / "kg.tsv"], format="tsv")
    n = g.num_triples
    g.splits = {"train": np.arange(n - 2), "test": np.arange(n - 2, n)}
    return KnowledgeGraph.load(g.save(tmp_path / "kg"))


def _keys(g: KnowledgeGraph) -> set[tuple[str, str, str]]:
    e, r = g.entities.keys, g.relations.keys
    return {(e[h], r[p], e[t]) for h, p, t in np.asarray(g.triples).tolist()}


def test_inverse_and_symmetric_relations_are_detected(kg):
    inv = {
        kg.relations.keys[r]: {kg.relations.keys[i] for i in o} for r, o in find_inverse_relations(kg).items()
    }
    assert inv == {"PartOf": {"HasA"}, "HasA": {"PartOf"}, "Antonym": {"Antonym"}}


def test_removes_the_fact_and_its_inverse(kg, tmp_path):
    facts = [
        Fact("q1", "car", "HasA", ("wheel",)),
        Fact("q2", "hot", "Antonym", ("cold",)),
        Fact("q3", "apple", "IsA", ("fruit",)),
    ]
    res = remove_evaluated_facts(kg, facts, tmp_path / "removed")
    path, removed = res
    assert removed == 5 and res.facts_found == 3 and not res.unresolved
    new = KnowledgeGraph.load(path)
    gone = _keys(kg) - _keys(new)
    assert gone == {
        ("car", "HasA", "wheel"),
        ("wheel", "PartOf", "car"),
        ("hot", "Antonym", "cold"),
        ("cold", "Antonym", "hot"),
        ("apple", "IsA", "fruit"),
    }
    assert new.entities.keys == kg.entities.keys and new.relations.keys == kg.relations.keys
    assert new.meta["facts_removed"]["triples_removed"] == 5
    # splits re-indexed onto the kept triples: the same triples, minus the removed ones
    old = {s: {tuple(x) for x in kg.split(s).tolist()} for s in kg.splits}
    for s in kg.splits:
        assert {tuple(x) for x in new.split(s).tolist()} == {
            x
            for x in old[s]
            if (kg.entities.keys[x[0]], kg.relations.keys[x[1]], kg.entities.keys[x[2]]) not in gone
        }


def test_no_inverses_removes_only_the_stated_direction(kg, tmp_path):
    res = remove_evaluated_facts(kg, [Fact("q", "car", "HasA", ("wheel",))], tmp_path / "r", inverses=None)
    assert res.removed == 1


def test_a_fact_without_relation_removes_every_edge_between_the_pair(kg, tmp_path):
    res = remove_evaluated_facts(kg, [Fact("q", "knife", None, ("apple",))], tmp_path / "r")
    assert res.removed == 1 and res.facts_found == 1


def test_names_resolve_by_label_and_absent_facts_are_counted(kg, tmp_path):
    res = remove_evaluated_facts(kg, [Fact("q", "banana", "AtLocation", ("kitchen",))], tmp_path / "r")
    assert res.removed == 0 and res.facts_found == 0


def test_entities_outside_the_kg_are_an_error_or_a_count(kg, tmp_path):
    facts = [Fact("q1", "zebra", "IsA", ("animal",)), Fact("q2", "apple", "IsA", ("fruit",))]
    with pytest.raises(KemmError, match="1 of 2 facts name an entity or relation that is not in the KG"):
        remove_evaluated_facts(kg, facts, tmp_path / "r")
    res = remove_evaluated_facts(kg, facts, tmp_path / "r", on_unresolved="count")
    assert res.unresolved == ["q1"] and res.removed == 1
    with pytest.raises(KemmError, match="no facts"):
        remove_evaluated_facts(kg, [], tmp_path / "r")


def test_facts_from_examples_of_each_format():
    cloze = ClozeExample("c1", ["An apple is a [MASK]."], "fruit", subject="apple", relation="IsA")
    mc = MultipleChoiceExample(
        "m1", "Where?", ["car", "kitchen"], ["A", "B"], answer=1, question_concept="knife"
    )
    vqa = VQAExample(question_id=5, image_id=1, image=ImageRef(key="x"), question="?", answers=["wood"] * 10)
    assert read_facts([cloze, mc]) == [
        Fact("c1", "apple", "IsA", ("fruit",)),
        Fact("m1", "knife", None, ("kitchen",)),
    ]
    with pytest.raises(KemmError, match="1 of 1 examples .VQAExample. state no KG fact.*5"):
        read_facts([vqa])


def test_benchmark_provenance_is_read_from_the_records(tmp_path):
    from kemm.evaluation.datasets import load_examples

    rec = {
        "sub": "apple",
        "obj": "fruit",
        "pred": "IsA",
        "masked_sentences": ["An apple is a [MASK]."],
        "obj_label": "fruit",
        "uuid": "u1",
        "sub_label": "apple",
        "kemm": {"subject": "ex:apple", "relation": "IsA", "object": "ex:fruit"},
    }
    (tmp_path / "test.jsonl").write_text(json.dumps(rec) + "\n")
    examples = load_examples("lama", tmp_path / "test.jsonl")
    assert read_facts(examples, "lama", tmp_path / "test.jsonl") == [
        Fact("u1", "ex:apple", "IsA", ("ex:fruit",))
    ]


def test_fact_triples(kg):
    from kemm.evaluation.facts import fact_triples

    t = fact_triples(kg, [Fact("q", "car", "HasA", ("wheel", "door")), Fact("r", "car", "HasA", ("wheel",))])
    e, r = kg.entities.index, kg.relations.index
    assert t.tolist() == sorted([[e["car"], r["HasA"], e["wheel"]], [e["car"], r["HasA"], e["door"]]])
    with pytest.raises(KemmError, match="1 facts have no relation"):
        fact_triples(kg, [Fact("q", "car", None, ("wheel",))])


def test_fact_edge_test_names_the_edges_the_fact_removed_kg_lacks(kg):
    e, r = kg.entities.index, kg.relations.index
    inv = find_inverse_relations(kg)
    states, one_way, any_relation, unknown, missing = fact_edge_tests(
        kg,
        [
            Fact("q", "car", "HasA", ("wheel",)),
            Fact("q", "apple", "IsA", ("fruit",)),
            Fact("q", "apple", None, ("knife",)),
            Fact("q", "apple", "IsA", ("granite",)),
            None,
        ],
        inv,
    )
    assert states(e["car"], r["HasA"], e["wheel"]) and states(e["wheel"], r["PartOf"], e["car"])
    assert not states(e["car"], r["HasA"], e["door"]) and not states(e["door"], r["PartOf"], e["car"])
    assert not states(e["wheel"], r["HasA"], e["car"])  # HasA is not its own inverse
    assert one_way(e["apple"], r["IsA"], e["fruit"]) and not one_way(e["fruit"], r["IsA"], e["apple"])
    assert any_relation(e["apple"], r["RelatedTo"], e["knife"]) and any_relation(
        e["knife"], r["IsA"], e["apple"]
    )
    assert unknown is None and missing is None
