import pytest

from kemm.errors import KemmError
from kemm.linking import EntityLinker, LinkerConfig
from kemm.linking.pipeline import load_pipeline, trained_pipeline_available
from tests.linking.conftest import EX


def test_blank_pipeline_lemmatizes_offline():
    nlp, info = load_pipeline("blank:en")
    doc = nlp("The Knives were Running")
    assert [t.norm_ for t in doc] == ["the", "knife", "be", "run"]
    assert info.name == "blank:en" and not info.has_ner and "lemmatizer" in info.components


def test_auto_falls_back_to_blank_without_a_trained_pipeline():
    _, info = load_pipeline("auto")
    assert info.name == ("en_core_web_sm" if trained_pipeline_available() else "blank:en")


def test_missing_pipeline_is_a_clear_error():
    with pytest.raises(KemmError, match="not installed"):
        load_pipeline("xx_no_such_pipeline")


def test_named_entities_block_common_noun_links(kitchen_kg):
    """With NER (here an entity ruler standing in for a trained NER), "Apple" the company is not the fruit."""
    lk = EntityLinker.from_kg(kitchen_kg, LinkerConfig(encoder=None))
    ruler = lk.nlp.add_pipe("entity_ruler", before="kemm_match_norm")
    ruler.add_patterns([{"label": "ORG", "pattern": "Apple"}])
    assert [link.key for link in lk.link("Apple sells phones in the kitchen")] == [EX + "kitchen"]
    assert [link.key for link in lk.link("an apple in the kitchen")] == [EX + "apple", EX + "kitchen"]
