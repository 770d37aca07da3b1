import torch

from kemm.pretraining.objectives import build_objective
from kemm.pretraining.objectives.masked_objects import box_pixel_mask
from tests.pretraining.cases import ObjectiveTestCase, host, tiny_batch


class TestMaskedObjects(ObjectiveTestCase):
    name = "masked-objects"
    options = {"probability": 0.5}


def test_box_pixel_mask():
    m = box_pixel_mask(torch.tensor([[[1.0, 2.0, 3.0, 4.0]]]), torch.tensor([[True]]), 5, 5)
    expect = torch.zeros(1, 5, 5, dtype=torch.bool)
    expect[0, 2:4, 1:3] = True
    assert torch.equal(m, expect)


def test_masked_region_is_blank_and_its_mention_loses_the_entity():
    obj = build_objective("masked-objects", {"probability": 1.0}, host())
    batch = tiny_batch()
    out = obj.corrupt(batch, torch.Generator().manual_seed(0))
    chosen = out.targets["moc_mask"]
    assert torch.equal(chosen, (batch.region_entity >= 0) & batch.region_mask)
    assert (out.pixel_values[0, :, :16, :16] == 0).all()
    kb = out.knowledge
    region = kb.mention_mask & (kb.mention_source == 1)
    assert (kb.entity_ids[region] == -1).all() and (kb.candidate_ids[region] == -1).all()
    assert (batch.knowledge.entity_ids[region] >= 0).all()  # the clean view is untouched
