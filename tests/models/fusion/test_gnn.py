"""gnn: message passing over subgraph + context node; [CLS ; context node] exchanged through an MLP."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from tests.models.fusion.conftest import D, T, build, make_ctx, mixed_examples, run


@pytest.mark.parametrize("conv", ["gat", "rgcn"])
def test_only_cls_changes_and_exchange_writes_back_both(entities, conv):
    m = build("gnn", conv=conv)
    assert m.layers == [1]
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    seen = {}
    m.gnn["1"].exchange.register_forward_hook(lambda mod, inp, out: seen.update(inp=inp[0], out=out))
    out = run(m, hidden, ctx)
    assert torch.equal(out[:, 1:], hidden[:, 1:])
    assert torch.equal(seen["inp"][:, :D], hidden[:, 0])  # the exchange reads [CLS ; context node]
    assert torch.equal(out[:, 0], seen["out"][:, :D])  # ... and writes back CLS
    x = ctx.state["gnn"]["x"]
    assert torch.equal(x[kb.graph.context_index], seen["out"][:, D:])  # ... and the context node
    assert ctx.extras["graph_pooled"].shape == (2, D) and ctx.extras["graph_context"].shape == (2, D)
    assert torch.equal(ctx.extras["graph_pooled"][1], torch.zeros(D))  # example 1: context node only
    assert ctx.extras["graph_pooled"][0].abs().sum() > 0


def test_graph_pooling_is_attention_over_the_example_nodes(entities):
    m = build("gnn")
    with torch.no_grad():
        m.pool_query.weight.zero_()
        m.pool_query.bias.zero_()  # uniform attention
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, entities)
    run(m, torch.randn(2, T, D), ctx)
    x = ctx.state["gnn"]["x"]
    assert kb.graph.context_index.tolist() == [3, 4]
    assert torch.allclose(ctx.extras["graph_pooled"][0], m.pool_value(x[:3]).mean(0), atol=1e-5)


def test_node_states_for_entity_answers_exclude_the_context_nodes(entities):
    m = build("gnn")
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, entities)
    run(m, torch.randn(2, T, D), ctx)
    x = ctx.state["gnn"]["x"]
    ex = ctx.extras
    assert ex["graph_node_batch"].tolist() == [0, 0, 0]  # example 1 has only its context node
    assert ex["graph_node_entity"].tolist() == mixed_examples()[0].nodes
    torch.testing.assert_close(ex["graph_nodes"], m.node_out(x[:3]))


def test_graphs_do_not_leak_between_examples(entities):
    m = build("gnn")
    hidden = torch.randn(2, T, D)
    a = run(m, hidden, make_ctx(KnowledgeBatch.collate(mixed_examples()), entities))
    other = mixed_examples()
    other[0].nodes = [5, 6, 2]
    b = run(m, hidden, make_ctx(KnowledgeBatch.collate(other), entities))
    assert not torch.allclose(a[0, 0], b[0, 0])
    assert torch.equal(a[1, 0], b[1, 0])


def test_without_graph_nothing_changes(entities):
    m = build("gnn")
    kb = KnowledgeBatch.collate([ExampleKnowledge([Mention(1, start=0, end=1)])])
    assert kb.graph is None
    hidden = torch.randn(1, T, D)
    ctx = make_ctx(kb, entities)
    assert torch.equal(run(m, hidden, ctx), hidden)
    assert torch.equal(ctx.extras["graph_pooled"], torch.zeros(1, D))


@pytest.mark.parametrize("conv", ["gat", "rgcn"])
def test_backward_reaches_every_parameter(entities, conv):
    m = build("gnn", conv=conv, num_layers=3, layers=[1, 2]).train()
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, entities)
    out = run(m, torch.randn(2, T, D), ctx)
    extras = ctx.extras
    (
        out.sum() + extras["graph_pooled"].sum() + extras["graph_context"].sum() + extras["graph_nodes"].sum()
    ).backward()
    assert not [n for n, p in m.named_parameters() if p.grad is None]


def test_bad_input(entities):
    m = build("gnn")
    ex = mixed_examples()
    ex[0].edges = [(0, 7, 1)]
    with pytest.raises(KemmError, match="relation id 7 is outside the module's 3 KG relations"):
        run(m, torch.randn(2, T, D), make_ctx(KnowledgeBatch.collate(ex), entities))
    ex = mixed_examples()
    ex[0].nodes = [0, 6, 99]
    with pytest.raises(KemmError, match="entity id 99 is outside the entity table"):
        run(m, torch.randn(2, T, D), make_ctx(KnowledgeBatch.collate(ex), entities))
    kb = KnowledgeBatch.collate(mixed_examples())
    with pytest.raises(KemmError, match="2 graphs for 3 examples"):
        m.begin(torch.randn(3, T, D), make_ctx(kb, entities))
    with pytest.raises(KemmError, match="heads=3 does not divide"):
        build("gnn", heads=3)


def test_mention_states_tell_a_node_where_its_entity_was_linked_from(entities):
    from tests.models.fusion.conftest import LAYOUT

    m = build("gnn", mention_states=True)
    kb = KnowledgeBatch.collate(mixed_examples())
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(kb, entities)
    m.begin(hidden, ctx)
    got = m._mention_states(hidden, ctx, ctx.state["gnn"])  # (N, Dn): nodes 0-2, then 2 context nodes
    text, region = LAYOUT.text.start, LAYOUT.regions.start
    torch.testing.assert_close(got[0], m.mention_in(hidden[0, text + 1 : text + 3].mean(0)))  # apple's span
    torch.testing.assert_close(got[1], m.mention_in(hidden[0, region + 1]))  # the knife's region
    assert torch.equal(got[2:], torch.zeros(3, m.node_dim))  # no mention: "other" and context nodes
    # the first fusion layer's message passing starts from the KG vectors plus these
    before = ctx.state["gnn"]["x"].clone()
    seen = {}
    m.gnn["1"].conv.register_forward_hook(lambda mod, inp, out: seen.update(x=inp[0]))
    run(m, hidden, ctx)
    torch.testing.assert_close(seen["x"][:3], before[:3] + got[:3])
    assert build("gnn").mention_in is None  # off by default (QA-GNN)
