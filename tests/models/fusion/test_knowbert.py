"""knowbert: candidates scored by MLP[span . entity, prior], NULL below the threshold, added back to the span."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.models.knowledge import KnowledgeBatch
from tests.models.fusion.conftest import D, T, build, make_ctx, mixed_examples, run


def prior_scorer(m, layer="0"):
    """Make ψ = prior (the MLP reads only the prior column)."""
    mlp = m.kar[layer].scorer
    with torch.no_grad():
        for p in mlp.parameters():
            p.zero_()
        mlp[0].weight[0, 1] = 1.0
        mlp[2].weight[0, 0] = 1.0
    return m


def test_threshold_keeps_only_candidates_above_it(entities):
    m = prior_scorer(build("knowbert", threshold=0.5))
    assert m.layers == [0]
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    out = run(m, hidden, ctx)
    kar = m.kar["0"]
    apple = kar.norm(hidden[0, 1:3] + kar.up(entities(torch.tensor(0))))  # prior 0.8 kept, 0.2 dropped
    knife = kar.norm(hidden[0, 7] + kar.up(entities(torch.tensor(6))))
    assert torch.allclose(out[0, 1:3], apple, atol=1e-5)
    assert torch.allclose(out[0, 7], knife, atol=1e-5)
    untouched = torch.ones(2, T, dtype=torch.bool)
    untouched[0, 1:3] = untouched[0, 7] = False
    assert torch.equal(out[untouched], hidden[untouched])  # other tokens and example 1: unchanged
    scores = ctx.extras["linking_scores"]
    assert scores.shape == (2, 2, 3)
    assert torch.allclose(scores[0, 0], torch.tensor([0.5, 0.8, 0.2]))
    assert torch.allclose(scores[0, 1], torch.tensor([0.5, 1.0, -10000.0]))  # one candidate, one padded slot
    assert torch.all(scores[1, :, 1:] == -10000.0)


def test_softmax_over_surviving_candidates(entities):
    m = prior_scorer(build("knowbert", threshold=-1.0))
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    out = run(m, hidden, make_ctx(kb, entities))
    w = torch.softmax(torch.tensor([0.8, 0.2]), 0)
    mix = w[0] * entities(torch.tensor(0)) + w[1] * entities(torch.tensor(1))
    kar = m.kar["0"]
    assert torch.allclose(out[0, 1:3], kar.norm(hidden[0, 1:3] + kar.up(mix)), atol=1e-5)


def test_all_candidates_below_threshold_is_null_and_changes_nothing(entities):
    m = prior_scorer(build("knowbert", threshold=2.0))
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    assert torch.equal(run(m, hidden, ctx), hidden)
    assert torch.all(ctx.extras["linking_scores"][..., 0] == 2.0)


def test_empty_knowledge_and_backward(entities):
    m = build("knowbert", threshold=-100.0).train()
    hidden = torch.randn(3, T, D)
    assert torch.equal(run(m.eval(), hidden, make_ctx(KnowledgeBatch.empty(3), entities)), hidden)
    m.train()
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, entities)
    h = torch.randn(2, T, D, requires_grad=True)
    out = run(m, h, ctx)
    target = torch.tensor([[1, 1], [0, 0]])  # entity-linking loss: candidate 0, and NIL for padding
    loss = out.sum() + torch.nn.functional.cross_entropy(
        ctx.extras["linking_scores"].flatten(0, 1), target.flatten()
    )
    loss.backward()
    assert not [n for n, p in m.named_parameters() if p.grad is None]
    assert torch.isfinite(h.grad).all()


def test_bad_options():
    with pytest.raises(KemmError, match="span_heads=3 does not divide entity_dim=8"):
        build("knowbert", span_heads=3)
    assert build("knowbert", span_heads=0).kar["0"].span_layer is None


def test_word_to_span_attention_changes_every_token_of_linked_examples_only(entities):
    m = build("knowbert", recontextualize="attention", threshold=-100.0)
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    out = run(m, hidden, ctx)
    assert (out[0] != hidden[0]).any(-1).all()  # KnowBERT's attention reaches every token
    assert torch.equal(out[1], hidden[1])  # no mention: unchanged
    m.train()
    h = torch.randn(2, T, D, requires_grad=True)
    run(m, h, make_ctx(kb, entities)).sum().backward()
    assert m.kar["0"].word_attention.in_proj_weight.grad is not None and torch.isfinite(h.grad).all()
