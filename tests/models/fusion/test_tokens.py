"""tokens: T grows by M, padded and NIL mentions are masked, the token is the projected entity."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from tests.models.fusion.conftest import D, T, build, make_ctx, mixed_examples


def test_extends_the_sequence_by_one_token_per_mention(entities):
    m = build("tokens")
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, entities)
    hidden = torch.randn(2, T, D)
    out = m.begin(hidden, ctx)
    assert out.shape == (2, T + 2, D)
    assert torch.equal(out[:, :T], hidden)
    assert ctx.layout.knowledge == slice(T, T + 2)
    assert ctx.attention_mask[:, T:].tolist() == [[1.0, 1.0], [0.0, 0.0]]  # example 1 has no mention
    assert torch.equal(out[1, T:], torch.zeros(2, D))
    assert torch.equal(m.after_layer(0, out, ctx), out)


def test_token_is_projected_entity_plus_type_and_mention_position(entities):
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    plain = build("tokens", add_mention=False, layer_norm=False)
    out = plain.begin(hidden, make_ctx(kb, entities))
    want = plain.project(entities(torch.tensor([0, 6]))) + plain.type_embedding  # (2, D)
    assert torch.allclose(out[0, T:], want)
    pos = build("tokens", add_mention=True, layer_norm=False)
    pos.load_state_dict(plain.state_dict())
    out = pos.begin(hidden, make_ctx(kb, entities))
    assert torch.allclose(out[0, T], want[0] + hidden[0, 1:3].mean(0), atol=1e-6)  # text span 1-2
    assert torch.allclose(out[0, T + 1], want[1] + hidden[0, 6 + 1], atol=1e-6)  # region 1


def test_nil_and_absent_modality_mentions_are_masked(entities):
    nil = Mention(-1, "text", start=0, end=1)
    region = Mention(3, "region", region=0)
    kb = KnowledgeBatch.collate([ExampleKnowledge([nil, region])])
    from kemm.models.fusion import SequenceLayout

    ctx = make_ctx(kb, entities, SequenceLayout(text=slice(0, 4)))  # a text-only stream
    out = build("tokens").begin(torch.randn(1, 4, D), ctx)
    assert out.shape == (1, 6, D) and ctx.attention_mask[0, 4:].tolist() == [0.0, 0.0]


def test_empty_knowledge_adds_one_masked_token(entities):
    kb = KnowledgeBatch.empty(3)
    ctx = make_ctx(kb, entities)
    out = build("tokens").begin(torch.randn(3, T, D), ctx)
    assert out.shape == (3, T + 1, D) and not ctx.attention_mask[:, T:].any()


def test_backward_reaches_parameters_and_bad_ids_raise(entities):
    m = build("tokens").train()
    kb = KnowledgeBatch.collate(mixed_examples())
    m.begin(torch.randn(2, T, D), make_ctx(kb, entities)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    bad = KnowledgeBatch.collate([ExampleKnowledge([Mention(40, start=0, end=1)])])
    with pytest.raises(KemmError, match="entity id 40 is outside the entity table of 12"):
        m.begin(torch.randn(1, T, D), make_ctx(bad, entities))
    ctx = make_ctx(kb, entities)
    h = m.begin(torch.randn(2, T, D), ctx)
    with pytest.raises(KemmError, match="already has knowledge tokens"):
        m.begin(h, ctx)
