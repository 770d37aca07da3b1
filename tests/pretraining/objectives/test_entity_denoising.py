import torch

from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from kemm.pretraining.objectives.entity_denoising import corrupt_entities
from tests.pretraining.cases import ObjectiveTestCase


class TestEntityDenoising(ObjectiveTestCase):
    name = "entity-denoising"
    options = {"mask_prob": 0.5}


def test_dea_proportions_and_labels():
    g = torch.Generator().manual_seed(0)
    examples = []
    for _ in range(300):
        ms = [
            Mention(int(torch.randint(1000, (1,), generator=g)), "text", start=j, end=j + 1, candidates=[1])
            for j in range(50)
        ]
        ms.append(Mention(-1, "text", start=60, end=61))  # NIL: never a target
        ms.append(Mention(5, "region", region=0))  # region: not aligned text
        examples.append(ExampleKnowledge(ms))
    kb = KnowledgeBatch.collate(examples)
    out, labels, kind = corrupt_entities(kb, 1000, torch.Generator().manual_seed(1), 0.05, 0.15)
    aligned = kind >= 0
    assert aligned.sum() == 300 * 50
    assert torch.equal(labels[aligned], kb.entity_ids[aligned]) and (labels[~aligned] == -1).all()
    n = aligned.sum()
    assert abs((kind == 1).sum() / n - 0.05) < 0.006
    assert abs((kind == 2).sum() / n - 0.15) < 0.01
    assert (out.entity_ids[kind == 2] == -1).all()
    assert torch.equal(out.entity_ids[kind == 0], kb.entity_ids[kind == 0])
    assert (out.entity_ids[~aligned] == kb.entity_ids[~aligned]).all()
