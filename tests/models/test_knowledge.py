"""KnowledgeBatch.collate: padding, candidates and priors, empty and mixed examples, QA-GNN graphs."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.models.knowledge import NODE_TYPES, REGION, TEXT, ExampleKnowledge, KnowledgeBatch, Mention


def test_pads_mentions_and_candidates():
    a = ExampleKnowledge(
        [
            Mention(3, "text", start=1, end=3, candidates=[3, 4, 5], priors=[0.6, 0.3, 0.1]),
            Mention(7, "region", region=2, candidates=[7, 8]),
        ]
    )
    kb = KnowledgeBatch.collate([a, ExampleKnowledge()])
    assert (kb.batch_size, kb.num_mentions) == (2, 2)
    assert kb.entity_ids.tolist() == [[3, 7], [-1, -1]]
    assert kb.mention_mask.tolist() == [[True, True], [False, False]]
    assert kb.mention_source.tolist()[0] == [TEXT, REGION]
    assert kb.mention_start.tolist()[0] == [1, -1] and kb.mention_end.tolist()[0] == [3, -1]
    assert kb.mention_region.tolist()[0] == [-1, 2]
    assert kb.candidate_ids.shape == (2, 2, 3)
    assert kb.candidate_ids[0].tolist() == [[3, 4, 5], [7, 8, -1]]
    assert torch.allclose(kb.candidate_priors[0], torch.tensor([[0.6, 0.3, 0.1], [0.5, 0.5, 0.0]]))
    assert kb.graph is None and not kb.is_empty()


def test_empty_batch():
    kb = KnowledgeBatch.empty(3)
    assert kb.is_empty() and kb.entity_ids.shape == (3, 1) and kb.candidate_ids.shape == (3, 1, 1)
    assert KnowledgeBatch.collate([ExampleKnowledge()], with_graph=True).graph.num_nodes == 1


def test_graph_gets_a_context_node_per_example():
    a = ExampleKnowledge(
        nodes=[5, 6, 9], node_types=["question", "answer", "other"], edges=[(0, 2, 2), (2, 1, 1)]
    )
    b = ExampleKnowledge()  # no subgraph: its context node alone
    g = KnowledgeBatch.collate([a, b]).graph
    assert g.num_graphs == 2 and g.num_nodes == 5
    assert g.node_entity.tolist() == [5, 6, 9, -1, -1]
    assert g.node_type.tolist() == [0, 1, 2, NODE_TYPES["context"], NODE_TYPES["context"]]
    assert g.context_index.tolist() == [3, 4] and g.batch.tolist() == [0, 0, 0, 0, 1]
    edges = set(zip(g.edge_index[0].tolist(), g.edge_type.tolist(), g.edge_index[1].tolist()))
    # KG edges, and context <-> question/answer nodes with relation -1 in both directions
    assert edges == {(0, 2, 2), (2, 1, 1), (3, -1, 0), (0, -1, 3), (3, -1, 1), (1, -1, 3)}
    moved = KnowledgeBatch.collate([a, b]).to("cpu")
    assert moved.graph.context_index.tolist() == [3, 4]


def test_bad_examples_are_one_clear_error():
    with pytest.raises(KemmError, match="source must be 'text' or 'region'"):
        KnowledgeBatch.collate([ExampleKnowledge([Mention(1, "image")])])
    with pytest.raises(KemmError, match="needs 0 <= start < end"):
        KnowledgeBatch.collate([ExampleKnowledge([Mention(1, start=3, end=3)])])
    with pytest.raises(KemmError, match="2 candidates but 1 priors"):
        KnowledgeBatch.collate(
            [ExampleKnowledge([Mention(1, start=0, end=1, candidates=[1, 2], priors=[1.0])])]
        )
    with pytest.raises(KemmError, match="node_types must name each of the 2 nodes"):
        KnowledgeBatch.collate([ExampleKnowledge(nodes=[1, 2], node_types=["question", "context"])])
