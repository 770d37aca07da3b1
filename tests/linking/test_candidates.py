import numpy as np

from kemm.linking.aliases import AliasTable
from kemm.linking.candidates import CandidateGenerator
from kemm.linking.config import LinkerConfig
from kemm.linking.encoder import CharNgramEncoder
from kemm.linking.pipeline import load_pipeline
from tests.linking.conftest import EX


def generator(kg, **cfg):
    nlp, _ = load_pipeline()
    config = LinkerConfig(**{"encoder": None, **cfg})
    enc = CharNgramEncoder() if config.encoder == "char-ngram" else None
    return nlp, CandidateGenerator(nlp, AliasTable.from_kg(kg), config, enc)


def test_phrase_mentions_spans_reasons_and_candidates(kitchen_kg):
    nlp, gen = generator(kitchen_kg)
    doc = nlp("Two ice-creams, a baseball bat and a bat.")
    ms = gen.phrase_mentions(doc)
    assert [(m.text, m.reason) for m in ms] == [
        ("ice-creams", "lemma"),
        ("baseball bat", "exact"),
        ("bat", "exact"),
    ]
    assert [(m.start_char, m.end_char) for m in ms] == [(4, 14), (18, 30), (37, 40)]
    bat = ms[-1]
    assert [kitchen_kg.entities.keys[i] for i in bat.ids] == [EX + "bat_animal", EX + "baseball_bat"]
    assert np.all(bat.similarity == 1.0) and bat.prior[0] > bat.prior[1]


def test_lemma_matching_can_be_switched_off(kitchen_kg):
    nlp, gen = generator(kitchen_kg, use_lemmas=False)
    assert [m.text for m in gen.phrase_mentions(nlp("apples and knives"))] == ["knives"]


def test_dense_queries_are_uncovered_content_words(kitchen_kg):
    nlp, gen = generator(kitchen_kg, encoder="char-ngram", dense_threshold=0.6)
    doc = nlp("The bannana is in the kitchen of Bob")
    queries = gen.dense_queries(doc, gen.phrase_mentions(doc))
    assert [q[2] for q in queries] == ["bannana"]  # stop words, short words and matched words are no queries
    dense = gen.generate([doc])[0]
    assert [(m.text, m.reason) for m in dense] == [("bannana", "dense"), ("kitchen", "exact")]
    assert 0.6 <= dense[0].similarity[0] < 1.0
