"""Meta-tests (every architecture and fusion module is tested) and one clear error per bad input."""

import pytest
import torch

import tests.models
from kemm.errors import InputError, KemmError
from kemm.models import ARCHITECTURES, build_model, load_model
from kemm.models.configuration import TINY_VIT, DualStreamConfig
from kemm.models.fusion import FUSION
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from kemm.models.single_stream import SingleStreamModel
from tests.meta import assert_every_part_tested, case_names
from tests.models.cases import FUSION_OPTIONS, TEXT, ArchitectureTestCase, entity_table, inputs


def test_every_registered_architecture_has_a_generic_test():
    assert_every_part_tested(ARCHITECTURES, case_names(tests.models, ArchitectureTestCase))


def test_every_registered_fusion_module_has_test_options():
    assert_every_part_tested(FUSION, FUSION_OPTIONS)


def tiny(name="single-stream", **kw):
    torch.manual_seed(0)
    return build_model(name, text=TEXT, vision=TINY_VIT, **kw)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    tiny("dual-stream").save_pretrained(tmp_path / "ds")
    with pytest.raises(KemmError, match=r"holds a 'dual-stream' model, not a 'single-stream' one"):
        SingleStreamModel.from_pretrained(tmp_path / "ds")
    assert type(load_model(tmp_path / "ds")).__name__ == "DualStreamModel"


def test_not_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(KemmError, match="not a saved kemm model"):
        load_model(tmp_path)


def test_entity_ids_outside_the_kge_table_are_refused():
    model = tiny(entities=entity_table(), fusion="tokens")
    kb = KnowledgeBatch.collate([ExampleKnowledge([Mention(40, start=1, end=2)])] + [ExampleKnowledge()] * 2)
    with pytest.raises(KemmError, match=r"entity id 40 is outside the KGE table \(12 entities"):
        model(**inputs(), knowledge=kb)
    kb = KnowledgeBatch.collate([ExampleKnowledge([Mention(1, start=1, end=2, candidates=[1, 12])])] * 3)
    with pytest.raises(KemmError, match=r"entity id 12 is outside"):
        model(**inputs(), knowledge=kb)


def test_entity_table_of_another_kg_is_refused(tmp_path):
    tiny(entities=entity_table(fingerprint="a" * 64), fusion="ernie").save_pretrained(tmp_path / "m")
    with pytest.raises(KemmError, match="mismatched vocabulary"):
        load_model(tmp_path / "m", entities=entity_table(fingerprint="b" * 64))
    assert load_model(tmp_path / "m", entities=entity_table(fingerprint="a" * 64)) is not None


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_the_entity_table_passed_to_load_is_the_one_used(tmp_path, mode):
    """Fine-tuning a checkpoint in the fact-removed setting passes that setting's KGE vectors:
    the saved table (of the KG the checkpoint was pre-trained with) must not overwrite them."""
    from kemm.models.entities import EntityEmbeddings

    tiny(entities=entity_table(mode), fusion="ernie").save_pretrained(tmp_path / "m")
    other = torch.randn(12, 16, generator=torch.Generator().manual_seed(99))
    model = load_model(tmp_path / "m", entities=EntityEmbeddings.from_tensor(other.clone(), mode=mode))
    ids = torch.arange(12)
    assert torch.equal(model.entities(ids), EntityEmbeddings.from_tensor(other, mode=mode)(ids))
    saved = load_model(tmp_path / "m")  # no table given: the saved one
    assert torch.equal(saved.entities(ids), entity_table(mode)(ids))


def test_entity_table_of_another_size_is_refused(tmp_path):
    tiny(entities=entity_table(), fusion="ernie").save_pretrained(tmp_path / "m")
    from kemm.models.entities import EntityEmbeddings

    with pytest.raises(KemmError, match=r"has 5 x 16 vectors, the model was built for 12 x 16"):
        load_model(tmp_path / "m", entities=EntityEmbeddings.from_tensor(torch.zeros(5, 16)))


def test_fusion_without_a_kg_is_refused():
    with pytest.raises(KemmError, match="needs a KG entity table"):
        tiny(fusion="tokens")


def test_config_errors_name_the_key():
    with pytest.raises(InputError, match=r"unknown key 'fusion_stream'.*did you mean 'fusion_streams'"):
        build_model("dual-stream", fusion_stream=["text"])
    with pytest.raises(KemmError, match=r"unknown stream\(s\) \['audio'\]"):
        DualStreamConfig(fusion_streams=["audio"])
    with pytest.raises(KemmError, match="unknown fusion module 'ernei'; did you mean 'ernie'"):
        tiny(entities=entity_table(), fusion="ernei")


def test_architecture_names_and_aliases():
    assert ARCHITECTURES.names() == ["dual-encoder", "dual-stream", "single-stream"]
    assert ARCHITECTURES.get("ViLT") is SingleStreamModel


def test_boxes_without_image_and_dual_stream_without_image_are_refused():
    batch = inputs()
    with pytest.raises(KemmError, match="need the image"):
        tiny()(batch["input_ids"], boxes=batch["boxes"])
    with pytest.raises(KemmError, match="needs an image"):
        tiny("dual-stream")(batch["input_ids"], pixel_values=None)


@pytest.mark.parametrize("name", ["single-stream", "dual-stream", "dual-encoder"])
def test_shipped_yaml_configs_load(name):
    from pathlib import Path

    from kemm.config import from_yaml

    cls = ARCHITECTURES.get(name).config_class
    path = Path(__file__).parents[2] / "configs" / "models" / f"{name.replace('-', '_')}.yaml"
    config = from_yaml(cls, path)
    assert config.fusion in FUSION and type(config) is cls
