import logging

import pytest

from kemm.errors import KemmError
from kemm.linking import EntityLinker, LinkerConfig
from tests.linking.conftest import EX


def keys(result):
    return [(link.text, link.key.removeprefix(EX), link.reason) for link in result]


def test_exact_lemma_and_multiword(linker):
    res = linker.link("Knives cut apples, and the ice creams melted in the freezer.")
    assert keys(res) == [
        ("Knives", "knife", "exact"),
        ("cut", "cutting", "exact"),
        ("apples", "apple", "lemma"),
        ("ice creams", "ice_cream", "lemma"),
        ("freezer", "freezer", "exact"),
    ]
    first = res[0]
    assert (first.start, first.end) == (0, 6) and res.text[first.start : first.end] == "Knives"
    assert res.pipeline == "blank:en" and res.reason is None


def test_longest_match_wins(linker):
    assert keys(linker.link("a baseball bat")) == [("baseball bat", "baseball_bat", "exact")]


def test_stop_words_and_punctuation_never_link(kitchen_kg):
    from kemm.kg import KnowledgeGraph, Vocabulary

    vocab = Vocabulary(
        keys=["ex:the", "ex:dot", "ex:apple"],
        labels=["the", "...", "apple"],
        label_langs=["en"] * 3,
        descriptions=[""] * 3,
    )
    kg = KnowledgeGraph(
        vocab,
        Vocabulary(keys=["r"], labels=["r"], label_langs=["en"], descriptions=[""]),
        __import__("numpy").zeros((0, 3), dtype="int32"),
    )
    res = EntityLinker.from_kg(kg, LinkerConfig(encoder=None)).link("the apple ... the")
    assert [link.text for link in res] == ["apple"]


def test_coherence_disambiguates(linker):
    cave = linker.link("The bat flew out of the cave.")
    assert ("bat", "bat_animal", "exact") in keys(cave)
    game = linker.link("He swung the bat in the baseball game.")
    assert ("bat", "baseball_bat", "exact") in keys(game)


def test_nil_threshold(kitchen_kg):
    strict = EntityLinker.from_kg(kitchen_kg, LinkerConfig(encoder=None, nil_threshold=0.9))
    res = strict.link("A bat and an apple.")
    assert keys(res) == [("apple", "apple", "exact")]
    assert res.nil == ["bat"]


def test_dense_candidates_with_char_ngrams(kitchen_kg):
    lk = EntityLinker.from_kg(
        kitchen_kg, LinkerConfig(encoder="char-ngram", dense_threshold=0.6, context_weight=0.0)
    )
    res = lk.link("We ate a bannana in the kichen.")
    assert keys(res) == [("bannana", "banana", "dense"), ("kichen", "kitchen", "dense")]
    assert all(0.6 <= link.score <= 1.0 for link in res)
    off = EntityLinker.from_kg(kitchen_kg, LinkerConfig(encoder="char-ngram", dense=False))
    assert keys(off.link("We ate a bannana.")) == []


def test_link_many_matches_link(linker):
    texts = ["apples and bananas", "", "a knife in the kitchen"]
    batch = linker.link_many(texts, batch_size=2)
    assert [keys(r) for r in batch] == [keys(linker.link(t)) for t in texts]


def test_empty_text_gives_reason(linker):
    for text in ("", "   \n"):
        res = linker.link(text)
        assert len(res) == 0 and res.reason == "empty text"


def test_huge_text_is_truncated_with_warning(kitchen_kg, caplog):
    lk = EntityLinker.from_kg(kitchen_kg, LinkerConfig(encoder=None, max_text_chars=40))
    with caplog.at_level(logging.WARNING):
        res = lk.link("apple " * 1000 + "kitchen")
    assert res.truncated and len(res.text) == 40
    assert "truncated" in caplog.text
    assert all(link.key == EX + "apple" for link in res) and len(res) == 6


@pytest.mark.parametrize(
    "text",
    [
        "Это яблоко и банан на кухне",
        "Der Hund läuft schnell über die Straße und frisst einen großen Apfel im Garten",
    ],
)
def test_unknown_language_gives_explicit_empty_result(linker, text):
    res = linker.link(text)
    assert len(res) == 0 and res.reason.startswith("unsupported language")


def test_bad_config():
    with pytest.raises(KemmError):
        LinkerConfig(max_text_chars=0)
    with pytest.raises(KemmError, match="unknown linker config"):
        LinkerConfig.from_dict({"nope": 1})


def test_context_similarity_with_tiny_encoder(kitchen_kg, tiny_bert_dir):
    lk = EntityLinker.from_kg(
        kitchen_kg,
        LinkerConfig(encoder=str(tiny_bert_dir), dense=False, coherence_weight=0.0, context_weight=1.0),
    )
    res = lk.link("The bat is an animal.")
    bat = [link for link in res if link.text == "bat"][0]
    assert bat.num_candidates == 2
    # prior (2/3 or 1/3) plus a cosine in [0, 1]
    assert 0.33 <= bat.score <= 1.67
