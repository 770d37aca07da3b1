"""The fusion interface: registry, fusion: none, layer choice, and where mentions sit in a stream."""

import pytest
import torch

from kemm.errors import InputError, KemmError
from kemm.models.fusion import FUSION, SequenceLayout, build_fusion, mention_alignment
from kemm.models.fusion.base import masked_softmax, safe_key_padding
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from tests.models.fusion.conftest import D, T, build, make_ctx, mixed_examples, run


def test_registry_holds_every_module():
    assert FUSION.names() == ["ernie", "gnn", "knowbert", "none", "tokens"]
    assert FUSION.get("QA-GNN") is FUSION.get("gnn") and FUSION.get("Know_Bert") is FUSION.get("knowbert")
    assert FUSION.get("gnn").needs_graph and FUSION.get("tokens").extends_sequence
    with pytest.raises(InputError, match="unknown option 'treshold'.*did you mean 'threshold'"):
        build_fusion("knowbert", {"treshold": 1.0}, hidden_size=D, entity_dim=8, num_layers=2)


def test_none_is_the_identity(entities):
    m = build("none")
    hidden = torch.randn(2, T, D)
    ctx = make_ctx(KnowledgeBatch.collate(mixed_examples()), entities)
    assert torch.equal(run(m, hidden, ctx), hidden) and ctx.extras == {}


def test_mention_alignment_text_spans_and_regions():
    kb = KnowledgeBatch.collate(mixed_examples())
    ctx = make_ctx(kb, None, SequenceLayout(text=slice(1, 7), regions=slice(7, 10)))  # text after a CLS
    align, valid = mention_alignment(ctx, 10)
    assert align.shape == (2, 2, 10)
    assert align[0, 0].nonzero().squeeze(-1).tolist() == [2, 3]  # tokens 1-2 of the text
    assert align[0, 1].nonzero().squeeze(-1).tolist() == [8]  # region 1
    assert valid.tolist() == [[True, True], [False, False]]
    # a stream without regions (the text side of a dual-stream model) and a span past the text
    far = KnowledgeBatch.collate(
        [ExampleKnowledge([Mention(1, start=5, end=9), Mention(2, "region", region=0)])]
    )
    align, valid = mention_alignment(make_ctx(far, None, SequenceLayout(text=slice(0, 6))), 6)
    assert valid.tolist() == [[False, False]] and align.sum() == 0
    nil = KnowledgeBatch.collate([ExampleKnowledge([Mention(-1, start=0, end=1)])])
    ctx = make_ctx(nil, None, SequenceLayout(text=slice(0, 3)))
    assert mention_alignment(ctx, 3)[1].tolist() == [[True]]
    assert mention_alignment(ctx, 3, need_entity=True)[1].tolist() == [[False]]


def test_fusion_layers_and_helpers():
    assert build("knowbert", num_layers=4, layers=[-1, 1, 1]).layers == [1, 3]
    with pytest.raises(KemmError, match="layer -5 is outside the host's 4 layers"):
        build("knowbert", num_layers=4, layers=[-5])
    valid = torch.tensor([[False, False], [True, False]])
    assert safe_key_padding(valid).tolist() == [[False, True], [False, True]]
    p = masked_softmax(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), valid)
    assert p.tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_every_registered_module_has_its_own_test_file():
    from pathlib import Path

    here = Path(__file__).parent
    missing = [n for n in FUSION.names() if n != "none" and not (here / f"test_{n}.py").exists()]
    assert not missing, f"fusion modules without tests/models/fusion/test_<name>.py: {missing}"
