"""A dozen-entity entity table, hidden 32, and a mixed knowledge batch for the fusion-module tests."""

from __future__ import annotations

import pytest
import torch

from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion import FusionContext, SequenceLayout, build_fusion
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention

D, E, T = 32, 8, 9  # hidden, entity dim, sequence: 6 text tokens then 3 object regions
LAYOUT = SequenceLayout(text=slice(0, 6), regions=slice(6, 9))


@pytest.fixture
def entities():
    torch.manual_seed(0)
    return EntityEmbeddings.from_tensor(torch.randn(12, E))


def mixed_examples() -> list[ExampleKnowledge]:
    """Example 0: "apple" at text tokens 1-2 and a knife in region 1; example 1: nothing linked."""
    apple = Mention(0, "text", start=1, end=3, candidates=[0, 1], priors=[0.8, 0.2])
    knife = Mention(6, "region", region=1, candidates=[6], priors=[1.0])
    graph = dict(nodes=[0, 6, 2], node_types=["question", "answer", "other"], edges=[(0, 0, 2), (1, 2, 0)])
    return [ExampleKnowledge([apple, knife], **graph), ExampleKnowledge(nodes=[], node_types=[], edges=[])]


def make_ctx(knowledge: KnowledgeBatch, entities, layout: SequenceLayout = LAYOUT) -> FusionContext:
    b = knowledge.batch_size
    return FusionContext(knowledge, entities, layout, torch.ones(b, layout.length))


def run(module, hidden, ctx, layers=None):
    """begin, then after_layer for every host layer; returns the final hidden states."""
    out = module.begin(hidden, ctx)
    for i in range(module.num_layers if layers is None else layers):
        out = module.after_layer(i, out, ctx)
    return out


def build(name, num_layers=2, **options):
    m = build_fusion(name, options, hidden_size=D, entity_dim=E, num_layers=num_layers, num_relations=3)
    return m.eval()
