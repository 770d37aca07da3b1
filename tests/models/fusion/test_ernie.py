"""ernie: only the linked positions change, by act(W_t h + W_e e) split back with residual LayerNorms."""

import pytest
import torch
import torch.nn.functional as F

from kemm.errors import KemmError
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from tests.models.fusion.conftest import D, T, build, make_ctx, mixed_examples, run


def test_changes_exactly_the_linked_positions(entities):
    m = build("ernie")
    assert m.layers == [1]  # the upper half of a 2-layer host
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    out = run(m, hidden, ctx)
    changed = (out != hidden).any(-1)  # (B, T)
    want = torch.zeros(2, T, dtype=torch.bool)
    want[0, 1:3] = True  # "apple", text tokens 1-2
    want[0, 6 + 1] = True  # the knife, region 1
    assert torch.equal(changed, want)  # example 1 (no mention) is exactly unchanged
    assert ctx.extras["ernie_entities"].shape == (2, 2, D)
    assert torch.equal(ctx.extras["ernie_entities"][1], torch.zeros(2, D))


def test_one_mention_by_hand(entities):
    m = build("ernie", layers=[0], activation="gelu")
    kb = KnowledgeBatch.collate([ExampleKnowledge([Mention(4, start=2, end=4)])])
    hidden = torch.randn(1, T, D)
    out = run(m, hidden, make_ctx(kb, entities))
    agg = m.aggregators["0"]
    e = m.project(entities(torch.tensor([4])))  # (1, D)
    att = agg.entity_attention
    v = F.linear(e, att.in_proj_weight[2 * D :], att.in_proj_bias[2 * D :])  # one key: softmax = 1
    e = agg.entity_attention_norm(e + att.out_proj(v))
    w = hidden[0, 2:4]  # (2, D)
    want = agg.token_norm(w + agg.token_out(F.gelu(agg.token_in(w) + agg.entity_in(e))))
    assert torch.allclose(out[0, 2:4], want, atol=1e-5)
    assert torch.equal(out[0, :2], hidden[0, :2]) and torch.equal(out[0, 4:], hidden[0, 4:])


def test_empty_knowledge_is_the_baseline(entities):
    m = build("ernie")
    hidden = torch.randn(3, T, D)
    assert torch.equal(run(m, hidden, make_ctx(KnowledgeBatch.empty(3), entities)), hidden)


def test_entity_stream_carries_across_layers_and_backward(entities):
    m = build("ernie", num_layers=3, layers=[0, 2]).train()
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D, requires_grad=True)
    ctx = make_ctx(kb, entities)
    out = run(m, hidden, ctx)
    (out.sum() + ctx.extras["ernie_entities"].sum()).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing
    assert hidden.grad is not None


def test_bad_options():
    with pytest.raises(KemmError, match="layer 5 is outside the host's 2 layers"):
        build("ernie", layers=[5])
    with pytest.raises(KemmError, match="num_heads=3 does not divide hidden_size=32"):
        build("ernie", num_heads=3)
    assert build("ernie", layers=[-1]).layers == [1]
