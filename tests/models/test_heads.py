"""Heads: shapes, tied MLM decoder, entity scoring with padding, VQA pointer for unseen answers."""

import torch
from torch import nn

from kemm.models.heads import (
    ClozeHead,
    EntityPredictionHead,
    ITMHead,
    MLMHead,
    MultipleChoiceHead,
    ObjectClassificationHead,
    SubgraphPointer,
    VQAHead,
)
from tests.models.cases import ENTITY_DIM, NUM_ENTITIES, entity_table

D, V = 32, 64


def _backward_reaches(*modules, loss):
    loss.backward()
    dead = [n for m in modules for n, p in m.named_parameters() if p.requires_grad and p.grad is None]
    assert not dead, dead


def test_itm_and_mlm_heads_and_the_tied_decoder():
    words = nn.Embedding(V, D)
    mlm = MLMHead(words)
    assert mlm.decoder.weight is words.weight
    h = torch.randn(2, 5, D)
    assert mlm(h).shape == (2, 5, V) and ITMHead(D)(h[:, 0]).shape == (2, 2)
    _backward_reaches(mlm, loss=mlm(h).logsumexp(-1).sum())
    assert words.weight.grad is not None


def test_object_classification_over_all_entities_and_over_candidates():
    ents = entity_table()
    head = ObjectClassificationHead(D, ENTITY_DIM)
    regions = torch.randn(2, 3, D)
    assert head(regions, ents).shape == (2, 3, NUM_ENTITIES)
    cand = torch.tensor([[[1, 2, -1]] * 3] * 2)
    logits = head(regions, ents, cand)
    assert (
        logits.shape == (2, 3, 3)
        and torch.isinf(logits[..., 2]).all()
        and torch.isfinite(logits[..., :2]).all()
    )
    _backward_reaches(head, loss=head(regions, ents).logsumexp(-1).sum())
    assert ents.weight.grad is not None  # finetune mode: the KG vectors learn too


def test_entity_prediction_dea_with_batch_candidates():
    ids = torch.tensor([[3, 7, -1], [7, -1, -1]])
    cand, targets = EntityPredictionHead.batch_candidates(ids)
    assert cand.tolist() == [3, 7] and targets.tolist() == [[0, 1, -100], [1, -100, -100]]
    head = EntityPredictionHead(D, ENTITY_DIM)
    h = torch.randn(2, 3, D)
    logits = head(h, cand, entity_table())
    assert logits.shape == (2, 3, 2)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    _backward_reaches(head, loss=loss)
    per_mention = head(h, torch.tensor([[[1, -1]] * 3] * 2), entity_table())
    assert torch.isinf(per_mention[..., 1]).all()


def test_multiple_choice_one_logit_per_choice_and_graph_pooling():
    head = MultipleChoiceHead(D, graph_size=D)
    pooled, graph = torch.randn(6, D), torch.randn(6, D)
    head.eval()
    a, b = head(pooled, 3), head(pooled, 3, graph)
    assert a.shape == b.shape == (2, 3) and not torch.allclose(a, b)
    head.train()
    _backward_reaches(head, loss=head(pooled, 3, graph).sum())


def test_vqa_combined_distribution_can_answer_with_an_unseen_entity():
    torch.manual_seed(0)
    head = VQAHead(D, num_answers=5, entity_dim=ENTITY_DIM).eval()
    ents = entity_table()
    out = head(torch.randn(4, D), ents)
    assert out.answer_logits.shape == (4, 5) and out.entity_logits.shape == (4, NUM_ENTITIES)
    assert out.log_probs.shape == (4, 5 + NUM_ENTITIES) and out.gate.shape == (4, 1)
    torch.testing.assert_close(out.log_probs.logsumexp(-1), torch.zeros(4), atol=1e-5, rtol=0)
    # pushing the gate towards the KG makes an entity (not in the answer vocabulary) the argmax
    with torch.no_grad():
        head.gate.bias.fill_(-20.0)
    assert (head(torch.randn(4, D), ents).log_probs.argmax(-1) >= 5).all()
    # candidates: padding gets probability 0
    out = head(torch.randn(4, D), ents, torch.tensor([2, 9, -1]))
    assert out.entity_logits.shape == (4, 3) and torch.isinf(out.log_probs[:, -1]).all()
    head.train()
    _backward_reaches(head, loss=-head(torch.randn(4, D), ents, extras=_graph_extras()).log_probs[:, 7].sum())


def test_cloze_over_words_and_entities():
    words = nn.Embedding(V, D)
    head = ClozeHead(words, ENTITY_DIM)
    out = head(torch.randn(2, 6, D), torch.tensor([1, 4]), entity_table(), _graph_extras())
    assert out.word_logits.shape == (2, V) and out.entity_logits.shape == (2, NUM_ENTITIES)
    _backward_reaches(head, loss=out.word_logits.logsumexp(-1).sum() + out.entity_logits.logsumexp(-1).sum())
    assert head(torch.randn(2, 6, D), torch.tensor([0, 0])).entity_logits is None


def _graph_extras():
    """Example 0 has nodes of entities 2 and 5, example 1 one node of entity 2 (and a padded -1)."""
    return {
        "graph_nodes": torch.randn(4, D),
        "graph_node_batch": torch.tensor([0, 0, 1, 1]),
        "graph_node_entity": torch.tensor([2, 5, 2, -1]),
    }


def test_subgraph_pointer_scores_each_example_only_at_its_own_nodes():
    torch.manual_seed(0)
    ptr = SubgraphPointer(D)
    q, logits, extras = torch.randn(2, D), torch.randn(2, NUM_ENTITIES), _graph_extras()
    assert torch.equal(ptr(q, logits, None), logits) and torch.equal(ptr(q, logits, {}), logits)
    out = ptr(q, logits, extras)
    changed = (out != logits).nonzero().tolist()
    assert changed == [[0, 2], [0, 5], [1, 2]]
    k = ptr.key(extras["graph_nodes"])
    expect = (ptr.query(q)[0] * k[1]).sum() / D**0.5
    torch.testing.assert_close(out[0, 5] - logits[0, 5], expect)
    _backward_reaches(ptr, loss=out.logsumexp(-1).sum())


def test_vqa_and_cloze_heads_read_the_subgraph_only_when_given():
    torch.manual_seed(0)
    ents, extras = entity_table(), _graph_extras()
    vqa = VQAHead(D, num_answers=5, entity_dim=ENTITY_DIM).eval()
    pooled = torch.randn(2, D)
    a, b = vqa(pooled, ents).entity_logits, vqa(pooled, ents, extras=extras).entity_logits
    assert (a != b).nonzero().tolist() == [[0, 2], [0, 5], [1, 2]]
    cloze = ClozeHead(nn.Embedding(V, D), ENTITY_DIM)
    hidden, pos = torch.randn(2, 6, D), torch.tensor([1, 4])
    a, b = cloze(hidden, pos, ents).entity_logits, cloze(hidden, pos, ents, extras).entity_logits
    assert (a != b).nonzero().tolist() == [[0, 2], [0, 5], [1, 2]]


def test_cloze_subgraph_scores_reach_the_word_of_a_one_token_label():
    torch.manual_seed(0)
    cloze = ClozeHead(nn.Embedding(V, D), ENTITY_DIM)
    hidden, pos = torch.randn(2, 6, D), torch.tensor([1, 4])
    words = torch.full((NUM_ENTITIES,), -1)
    words[2] = 7  # entity 2's label is word 7; entity 5's label is several tokens
    extras = _graph_extras()
    a = cloze(hidden, pos, entity_table(), extras)
    b = cloze(hidden, pos, entity_table(), extras, words)
    assert torch.equal(a.entity_logits, b.entity_logits)
    assert (a.word_logits != b.word_logits).nonzero().tolist() == [[0, 7], [1, 7]]
    delta = b.word_logits[:, 7] - a.word_logits[:, 7]
    torch.testing.assert_close(
        delta, b.entity_logits[:, 2] - cloze(hidden, pos, entity_table()).entity_logits[:, 2]
    )
