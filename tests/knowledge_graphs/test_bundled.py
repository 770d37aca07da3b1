"""The bundled knowledge graphs ingest with kemm's own readers and hold what their READMEs promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from kemm.kg import ingest

ROOT = Path(__file__).parents[2] / "knowledge_graphs"
CS = "https://w3id.org/kemm/commonsense/"
REL = "https://w3id.org/kemm/relation/"
EXACT = "http://www.w3.org/2004/02/skos/core#exactMatch"
WN = "http://wordnet-rdf.princeton.edu/wn30/"


@pytest.fixture(scope="module")
def commonsense():
    kg, skipped = ingest([ROOT / "commonsense" / "commonsense.ttl"])
    assert not skipped
    return kg


def test_commonsense_size_and_closure(commonsense):
    kg = commonsense
    concepts = [
        i
        for i, k in enumerate(kg.entities.keys)
        if k.startswith(CS) and k not in (CS + "Concept", CS + "emoji")
    ]
    assert len(concepts) >= 300
    rel_ids = {i for i, k in enumerate(kg.relations.keys) if k.startswith(REL)}
    t = kg.triples
    between = [(h, r, tl) for h, r, tl in t.tolist() if r in rel_ids]
    assert len(between) >= 3000
    for h, _, tl in between:  # the graph is closed: both ends are labelled concepts
        assert kg.entities.labels[h] and kg.entities.labels[tl]
        assert kg.entities.keys[h].startswith(CS) and kg.entities.keys[tl].startswith(CS)
    for name in ("IsA", "UsedFor", "AtLocation", "MadeOf", "PartOf", "CapableOf", "HasProperty"):
        assert REL + name in kg.relations.index


def test_commonsense_concepts_map_to_wordnet(commonsense):
    kg = commonsense
    exact = kg.relations.index[EXACT]
    mapped = {h for h, r, _ in kg.triples.tolist() if r == exact}
    concepts = {
        i
        for i, k in enumerate(kg.entities.keys)
        if k.startswith(CS) and k not in (CS + "Concept", CS + "emoji")
    }
    assert concepts <= mapped
    targets = [kg.entities.keys[tl] for _, r, tl in kg.triples.tolist() if r == exact]
    assert all(k.startswith(WN) and k[len(WN) :][-2:] in ("-n", "-v", "-a", "-r") for k in targets)


def test_commonsense_emoji_objects(commonsense):
    emoji = [
        v for p, v in zip(commonsense.attributes.predicate, commonsense.attributes.value) if p == CS + "emoji"
    ]
    assert len(emoji) >= 120


@pytest.mark.slow
def test_commonsense_and_wordnet_merge_into_one_graph():
    kg, skipped = ingest([ROOT / "commonsense" / "commonsense.ttl", ROOT / "wordnet"])
    assert not skipped
    exact = kg.relations.index[EXACT]
    wn_labelled = 0
    for _, r, tl in kg.triples.tolist():
        if r == exact:  # every exactMatch lands on a real WordNet synset with its gloss
            assert kg.entities.descriptions[tl]
            wn_labelled += 1
    assert wn_labelled >= 300
