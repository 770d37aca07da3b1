import torch

from kemm.models.knowledge import REGION, TEXT
from kemm.pretraining.objectives.itm import pair_knowledge, sample_hard_negatives
from tests.pretraining.cases import ObjectiveTestCase, tiny_batch


class TestITM(ObjectiveTestCase):
    name = "itm"


def test_hard_negatives_never_same_image():
    ids = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(7, 7, generator=g) * 5
    sim[ids[:, None] == ids[None, :]] = 100.0  # same-image pairs are the most similar
    for _ in range(200):
        idx, valid = sample_hard_negatives(sim, ids, g)
        assert valid.all()
        assert (ids[idx] != ids).all()


def test_hard_negatives_follow_the_similarities():
    ids = torch.arange(4)
    sim = torch.zeros(4, 4)
    sim[:, 3] = 20.0  # column 3 is by far the hardest negative for rows 0-2
    g = torch.Generator().manual_seed(0)
    idx, _ = sample_hard_negatives(sim, ids, g)
    assert idx[:3].tolist() == [3, 3, 3] and idx[3] != 3


def test_a_batch_of_one_image_has_no_negative():
    _, valid = sample_hard_negatives(torch.zeros(3, 3), torch.tensor([5, 5, 5]), torch.Generator())
    assert not valid.any()


def test_pair_knowledge_takes_text_mentions_of_the_text_and_regions_of_the_image():
    kb = tiny_batch().knowledge
    pk = pair_knowledge(kb, torch.tensor([0]), torch.tensor([2]))
    got = pk.entity_ids[pk.mention_mask].tolist()
    src = pk.mention_source[pk.mention_mask].tolist()
    assert sorted(zip(src, got)) == [(TEXT, 4), (TEXT, 5), (REGION, 6)]


class TestITMMeanPooling(ObjectiveTestCase):
    name = "itm"
    options = {"pooling": "mean"}
