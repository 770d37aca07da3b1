"""build_example_knowledge on the kitchen KG: token spans from offsets, candidates, regions, subgraphs."""

import pytest

from kemm.errors import KemmError
from kemm.models.grounding import (
    build_example_knowledge,
    char_span_to_tokens,
    ground_texts,
    mention_candidates,
)
from kemm.models.knowledge import KnowledgeBatch
from tests.linking import conftest as linking
from tests.linking.conftest import EX

# the linking tests' fixtures: the dozen-entity kitchen KG, its linker, a tiny BERT tokenizer
kitchen_kg, linker, tiny_bert_dir = linking.kitchen_kg, linking.linker, linking.tiny_bert_dir


def words(text):
    """Offsets of a [CLS] + whitespace tokenizer: (0, 0) for [CLS], then one token per word."""
    out, pos = [(0, 0)], 0
    for w in text.split():
        start = text.index(w, pos)
        out.append((start, start + len(w)))
        pos = start + len(w)
    return out


def eid(kg, name):
    return kg.entities.index[EX + name]


def test_char_spans_to_token_spans():
    offsets = [(0, 0), (0, 3), (3, 6), (7, 12), (0, 0)]  # [CLS] "app" "les" "knife" [SEP]
    assert char_span_to_tokens(offsets, 0, 6) == (1, 3)
    assert char_span_to_tokens(offsets, 7, 12) == (3, 4)
    assert char_span_to_tokens(offsets, 20, 25) is None


def test_text_mentions_with_candidates_and_priors(linker, kitchen_kg):
    text = "the bat and knives"
    links = linker.link(text)
    ex = build_example_knowledge(text, words(text), links, table=linker.table)
    knife = next(m for m in ex.mentions if m.entity == eid(kitchen_kg, "knife"))
    assert (knife.start, knife.end) == (4, 5)  # token 0 is [CLS]; "knives" is word 4
    assert knife.candidates == [eid(kitchen_kg, "knife")] and knife.priors == [1.0]
    bat = next(m for m in ex.mentions if m.start == 2)
    assert sorted(bat.candidates) == sorted([eid(kitchen_kg, "bat_animal"), eid(kitchen_kg, "baseball_bat")])
    assert bat.entity in bat.candidates and abs(sum(bat.priors) - 1.0) < 1e-6
    assert bat.priors == sorted(bat.priors, reverse=True)
    assert ex.nodes is None  # no KG given: no subgraph


def test_candidates_keep_the_linked_entity(linker):
    link = linker.link("the bat")[0]
    ids, priors = mention_candidates(link, linker.table, max_candidates=1)
    assert ids == [link.entity_id] and priors == [1.0]
    assert mention_candidates(link)[0] == [link.entity_id]


def test_regions_question_and_answer_nodes(linker, kitchen_kg):
    text = "Where is the apple? freezer"
    links = linker.link(text)
    knife = eid(kitchen_kg, "knife")
    ex = build_example_knowledge(
        text,
        words(text),
        links,
        object_links=[None, knife],
        kg=kitchen_kg,
        hops=1,
        answer_start=text.index("freezer"),
    )
    region = [m for m in ex.mentions if m.source == "region"]
    assert len(region) == 1 and region[0].region == 1 and region[0].entity == knife
    types = dict(zip(ex.nodes, ex.node_types))
    assert types[eid(kitchen_kg, "apple")] == "question" and types[knife] == "question"
    assert types[eid(kitchen_kg, "freezer")] == "answer"
    assert types[eid(kitchen_kg, "kitchen")] == "other"  # one hop from apple, knife and freezer
    for h, r, t in ex.edges:  # every edge is a KG triple between kept nodes
        assert 0 <= r < kitchen_kg.num_relations and 0 <= h < len(ex.nodes) and 0 <= t < len(ex.nodes)
    g = KnowledgeBatch.collate([ex]).graph
    assert g.num_nodes == len(ex.nodes) + 1


def test_no_links_is_empty_knowledge(linker, kitchen_kg):
    text = "nothing here"
    ex = build_example_knowledge(text, words(text), linker.link(text), kg=kitchen_kg)
    assert ex.mentions == [] and ex.nodes == [] and ex.edges == []
    kb = KnowledgeBatch.collate([ex])
    assert kb.is_empty() and kb.graph.num_nodes == 1


def test_links_of_another_text_raise(linker):
    links = linker.link("knives and apples")
    with pytest.raises(KemmError, match="the links were made on another text"):
        build_example_knowledge("spoons and pears!", words("spoons and pears!"), links)


def test_ground_texts_with_a_real_tokenizer(linker, kitchen_kg, tiny_bert_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = ["a knife in the kitchen", "the night"]
    enc, examples = ground_texts(
        linker, tok, texts, kg=kitchen_kg, hops=1, tokenizer_kwargs={"padding": True}
    )
    assert "offset_mapping" not in enc
    first = examples[0].mentions
    offsets = tok(texts[0], return_offsets_mapping=True)["offset_mapping"]
    spans = [texts[0][offsets[m.start][0] : offsets[m.end - 1][1]] for m in first]
    assert spans == ["knife", "kitchen"] and first[0].start >= 1  # after [CLS]
    assert examples[1].mentions == [] and examples[1].nodes == []
    kb = KnowledgeBatch.collate(examples)
    assert kb.mention_mask.tolist() == [[True, True], [False, False]]


def test_object_links_from_the_object_linker(linker, kitchen_kg):
    from kemm.data import Box, ObjectAnnotation
    from kemm.linking.objects import ObjectLinker

    objects = [
        ObjectAnnotation(
            Box(0, 0, 4, 4), "thing", entity=EX + "banana"
        ),  # a benchmark object: its own KG key
        ObjectAnnotation(Box(0, 0, 2, 2), "zebra"),  # links to nothing
        ObjectAnnotation(Box(0, 0, 3, 3), "knife"),  # through the text linker
    ]
    links = ObjectLinker(linker).link(objects)
    ex = build_example_knowledge("", [], [], object_links=links, kg=kitchen_kg, hops=1)
    assert [(m.source, m.region, m.entity) for m in ex.mentions] == [
        ("region", 0, eid(kitchen_kg, "banana")),
        ("region", 2, eid(kitchen_kg, "knife")),
    ]
    assert {n for n, t in zip(ex.nodes, ex.node_types) if t == "question"} == {
        eid(kitchen_kg, "banana"),
        eid(kitchen_kg, "knife"),
    }
