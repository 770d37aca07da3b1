import numpy as np
import pytest

from kemm.kg import KnowledgeGraph, Vocabulary
from kemm.kg.graph import Attributes
from kemm.linking import EntityLinker, LinkerConfig
from kemm.linking.pipeline import load_pipeline
from kemm.linking.senses import entity_domains, entity_pos, is_plural, pos_cue, sense_text


@pytest.fixture(scope="module")
def dog_kg():
    """Two synsets named "dog" with equal priors: the animal (noun) and "to dog" (verb)."""
    keys = ["wn:dog-n", "wn:dog-v", "wn:cat-n"]
    vocab = Vocabulary(
        keys=keys,
        labels=["dog", "dog", "cat"],
        label_langs=["en"] * 3,
        descriptions=["a domestic animal", "go after with the intent to catch", "a small feline"],
    )
    attrs = Attributes.from_rows(
        [
            (0, "wn:pos", "n", "", ""),
            (1, "wn:pos", "v", "", ""),
            (2, "wn:pos", "n", "", ""),
            (0, "wn:lexname", "noun.animal", "", ""),
            (1, "wn:lexname", "verb.motion", "", ""),
        ]
    )
    rels = Vocabulary(keys=["r"], labels=["r"], label_langs=["en"], descriptions=[""])
    return KnowledgeGraph(vocab, rels, np.zeros((0, 3), dtype="int32"), attributes=attrs)


def test_is_plural():
    assert is_plural("dogs", "dog") and is_plural("glasses", "glass") and is_plural("knives", "knife")
    assert is_plural("cherries", "cherry")
    assert not is_plural("dog", "dog") and not is_plural("was", "be") and not is_plural("bus", "bus")


def test_pos_cue_from_neighbours():
    nlp, _ = load_pipeline("blank:en")
    doc = nlp("The dogs chased a cat and she dog it")
    assert pos_cue(doc, 1, 2) == "n"  # after a determiner (and plural)
    assert pos_cue(doc, 4, 5) == "n"  # "a cat"
    assert pos_cue(doc, 7, 8) == "v"  # "she dog"
    assert pos_cue(doc, 2, 3) is None  # "chased": no cue


def test_entity_pos_and_domains(dog_kg):
    assert entity_pos(dog_kg).tolist() == ["n", "v", "n"]
    assert entity_domains(dog_kg) == ["animal", "motion", ""]
    assert sense_text("dog", "a domestic animal", "animal", ["domestic dog"]) == (
        "animal: dog, domestic dog: a domestic animal"
    )
    assert sense_text("cat", "a small feline") == "cat: a small feline"


def test_the_dogs_are_animals(dog_kg):
    linker = EntityLinker.from_kg(dog_kg, LinkerConfig(encoder=None, coherence_weight=0.0))
    noun = [lk.key for lk in linker.link("The dogs chased a cat.")]
    assert noun[0] == "wn:dog-n" and noun[-1] == "wn:cat-n"
    assert [lk.key for lk in linker.link("They dog the thief.")] == ["wn:dog-v"]
    off = EntityLinker.from_kg(dog_kg, LinkerConfig(encoder=None, coherence_weight=0.0, pos_penalty=1.0))
    dogs = off.link("The dogs chased a cat.")[0]
    assert dogs.score == pytest.approx(0.5 * 0.95)  # a tie without the cue (lemma match: 0.95)


def test_context_does_not_bring_back_the_wrong_part_of_speech(dog_kg):
    from kemm.linking.candidates import Mention
    from kemm.linking.disambiguation import Context, Disambiguator

    vecs = {0: np.array([1.0, 0.0]), 1: np.array([0.0, 1.0])}  # the verb matches the context
    dogs = Mention(1, 2, 4, 8, "dogs", "lemma", np.array([0, 1]), np.array([0.5, 0.5], dtype=np.float32),
                   np.ones(2, dtype=np.float32), ["lemma"] * 2, pos_cue="n")  # fmt: skip
    context = Context(np.array([0.0, 1.0]))

    def decide(pos_penalty):
        cfg = LinkerConfig(encoder=None, context_weight=1.0, coherence_weight=0.0, pos_penalty=pos_penalty)
        d = Disambiguator(dog_kg, cfg, lambda ids: np.stack([vecs[int(i)] for i in ids]), entity_pos(dog_kg))
        return d.resolve([dogs], context)[0].entity

    assert decide(1.0) == 1  # no cue: the context picks "to dog"
    assert decide(0.1) == 0  # "the dogs": the noun, however well the verb's gloss fits
