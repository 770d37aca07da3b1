import numpy as np

from kemm.linking.candidates import Mention
from kemm.linking.config import LinkerConfig
from kemm.linking.disambiguation import Context, Disambiguator


def mention(kg, names, prior, text="x"):
    ids = np.array([kg.entities.index["http://example.org/kg/" + n] for n in names])
    return Mention(
        0,
        1,
        0,
        1,
        text,
        "exact",
        ids,
        np.array(prior, dtype=np.float32),
        np.ones(len(ids), dtype=np.float32),
        ["exact"] * len(ids),
    )


def test_coherence_counts_adjacent_mentions(kitchen_kg):
    d = Disambiguator(kitchen_kg, LinkerConfig(encoder=None))
    bat = mention(kitchen_kg, ["bat_animal", "baseball_bat"], [0.6, 0.4])
    ms = [bat, mention(kitchen_kg, ["baseball"], [1.0]), mention(kitchen_kg, ["kitchen"], [1.0])]
    assert d.coherence(ms, 0).tolist() == [0.0, 0.5]
    decisions = d.resolve(ms)
    assert decisions[0].entity == kitchen_kg.entities.index["http://example.org/kg/baseball_bat"]
    assert np.allclose(decisions[0].scores, [0.6, 0.4 + 0.5 * 0.5])


def test_context_vectors_and_nil(kitchen_kg):
    vecs = {
        kitchen_kg.entities.index["http://example.org/kg/bat_animal"]: np.array([1.0, 0.0]),
        kitchen_kg.entities.index["http://example.org/kg/baseball_bat"]: np.array([0.0, 1.0]),
    }
    d = Disambiguator(
        kitchen_kg,
        LinkerConfig(encoder=None, context_weight=1.0, nil_threshold=0.9),
        entity_vectors=lambda ids: np.stack([vecs[int(i)] for i in ids]),
    )
    bat = mention(kitchen_kg, ["bat_animal", "baseball_bat"], [0.5, 0.5])
    [dec] = d.resolve([bat], context=Context(np.array([0.0, 1.0])))
    assert dec.entity == kitchen_kg.entities.index["http://example.org/kg/baseball_bat"]
    assert np.isclose(dec.score, 1.5)
    [nil] = d.resolve(
        [bat], context=Context(np.array([-1.0, -1.0]) / np.sqrt(2))
    )  # negative cosines count as 0
    assert nil.entity is None and np.isclose(nil.score, 0.5)


def test_context_words_outside_the_mention():
    ctx = Context(
        np.array([1.0, 0.0]),
        words=np.array([[0.0, 1.0], [1.0, 0.0]]),
        positions=np.array([0, 3]),
    )
    ev = np.array([[0.0, 1.0], [1.0, 0.0]])  # two candidates
    assert ctx.word_similarity(ev, 3, 4).tolist() == [1.0, 0.0]  # the word at 3 is the mention itself
    assert ctx.word_similarity(ev, 1, 2).tolist() == [1.0, 1.0]
    assert Context(np.array([1.0, 0.0])).word_similarity(ev, 0, 1).tolist() == [0.0, 0.0]
