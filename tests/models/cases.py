"""Generic test case run for every registered architecture x every registered fusion module.

An architecture's test module subclasses :class:`ArchitectureTestCase` and sets ``name`` (and, if
needed, ``options``); every test runs once per name in :data:`kemm.models.fusion.FUSION`, so a new
fusion module is tested in every architecture as soon as it registers. :data:`FUSION_OPTIONS` holds
the options each fusion module is tested with; the meta-test in ``test_base.py`` fails when a
registered module has no entry there.

Tiny sizes: hidden 32, 2 layers, 4 heads, 32-px images in 8-px patches, a 12-entity KG.
"""

from __future__ import annotations

import pytest
import torch

from kemm.models import build_model, load_model
from kemm.models.configuration import TINY_VIT
from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion import FUSION
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention

TEXT = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "vocab_size": 64,
    "max_position_embeddings": 32,
}
NUM_ENTITIES, ENTITY_DIM, NUM_RELATIONS = 12, 16, 3
B, L, R, HIDDEN, PATCHES = 3, 8, 2, 32, 17  # PATCHES: image [CLS] + (32 / 8)^2

#: options each registered fusion module is tested with (a module missing here fails the meta-test)
FUSION_OPTIONS: dict[str, dict] = {
    "none": {},
    "tokens": {},
    "ernie": {},
    "knowbert": {"threshold": -100.0},  # every candidate above the NULL score, so the KAR always fuses
    "gnn": {},
}
FUSIONS = FUSION.names()

#: (fusion, parameter-name fragment) pairs that legitimately get no gradient from the test batch:
#: KnowBERT's self-attentive span pooling over a one-position span (an object region) is constant
NO_GRADIENT = {("knowbert", "vision_fusion.kar.0.span_score.")}


def entity_table(mode: str = "finetune", **options) -> EntityEmbeddings:
    vectors = torch.randn(NUM_ENTITIES, ENTITY_DIM, generator=torch.Generator().manual_seed(7))
    return EntityEmbeddings.from_tensor(vectors, mode=mode, **options)


def knowledge(with_graph: bool = False, empty: bool = False) -> KnowledgeBatch:
    """A mixed batch: example 0 has a text and a region mention, example 1 none, example 2 a NIL
    mention and one with candidates only; with graphs, subgraphs of 3, 0 and 2 nodes."""
    if empty:
        return KnowledgeBatch.collate([ExampleKnowledge() for _ in range(B)], with_graph=with_graph)
    ex0 = ExampleKnowledge(
        mentions=[
            Mention(2, "text", start=1, end=3, candidates=[2, 5, 7], priors=[0.6, 0.3, 0.1]),
            Mention(4, "region", region=0, candidates=[4, 1]),
        ],
        nodes=[2, 4, 5],
        node_types=["question", "answer", "other"],
        edges=[(0, 0, 1), (1, 1, 2), (2, 2, 0)],
    )
    ex1 = ExampleKnowledge(nodes=[], node_types=[], edges=[])
    ex2 = ExampleKnowledge(
        mentions=[Mention(-1, "text", start=4, end=5, candidates=[3]), Mention(11, "text", start=5, end=7)],
        nodes=[11, 3],
        node_types=["question", "answer"],
        edges=[(0, 1, 1)],
    )
    return KnowledgeBatch.collate([ex0, ex1, ex2], with_graph=with_graph)


def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, -2:] = 0  # padding in example 1
    region_mask = torch.ones(B, R, dtype=torch.long)
    region_mask[2, 1] = 0
    return {
        "input_ids": torch.randint(1, 64, (B, L), generator=g),
        "attention_mask": mask,
        "pixel_values": torch.randn(B, 3, 32, 32, generator=g),
        "boxes": torch.tensor([[[0, 0, 16, 16], [8, 8, 32, 24]]] * B, dtype=torch.float),
        "region_mask": region_mask,
    }


def tensors(out) -> dict[str, torch.Tensor]:
    """Every floating tensor of an output, extras included (``extras.<key>``)."""
    found = {k: v for k, v in out.items() if torch.is_tensor(v) and v.is_floating_point()}
    for k, v in (out.get("extras") or {}).items():
        if torch.is_tensor(v) and v.is_floating_point():
            found[f"extras.{k}"] = v
    return found


def loss_of(out) -> torch.Tensor:
    """A loss that depends on every output element (fixed random weights; a plain sum would give
    LayerNorm outputs no gradient)."""
    total = torch.zeros(())
    for i, v in enumerate(tensors(out).values()):
        w = torch.randn(v.shape, generator=torch.Generator().manual_seed(i))
        total = total + (torch.nan_to_num(v, neginf=0.0, posinf=0.0) * w).sum()
    return total


class ArchitectureTestCase:
    name: str = ""
    options: dict = {}
    #: expected shapes of output fields
    shapes: dict[str, tuple[int, ...]] = {}

    def make(self, fusion: str, seed: int = 0, mode: str = "finetune"):
        torch.manual_seed(seed)
        return build_model(
            self.name,
            entities=entity_table(mode),
            text=TEXT,
            vision=TINY_VIT,
            fusion=fusion,
            fusion_options=FUSION_OPTIONS.get(fusion, {}),
            num_relations=NUM_RELATIONS,
            **self.options,
        )

    def run(self, model, fusion: str, empty: bool = False, **overrides):
        needs_graph = getattr(FUSION.get(fusion), "needs_graph", False)
        batch = inputs() | {"knowledge": knowledge(with_graph=needs_graph, empty=empty)} | overrides
        return model(**batch)

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_shapes(self, fusion):
        out = self.run(self.make(fusion).eval(), fusion)
        for key, shape in self.shapes.items():
            assert out[key] is not None, f"{key} missing"
            assert tuple(out[key].shape) == shape, f"{key}: {tuple(out[key].shape)} != {shape}"
        assert all(
            torch.isfinite(v).all() for k, v in tensors(out).items() if "logit" not in k and "scores" not in k
        )

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_backward_reaches_every_trainable_parameter(self, fusion):
        model = self.make(fusion).train()
        loss_of(self.run(model, fusion)).backward()
        dead = [
            n
            for n, p in model.named_parameters()
            if p.requires_grad
            and (p.grad is None or not p.grad.abs().sum() > 0)
            and not (fusion == "none" and n.startswith("entities."))  # no fusion: the KG is unused
            and not any(f == fusion and frag in n for f, frag in NO_GRADIENT)
        ]
        assert not dead, f"parameters without a gradient: {dead}"
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_save_load_round_trip(self, fusion, tmp_path):
        model = self.make(fusion).eval()
        model.save_pretrained(tmp_path / "m")
        loaded = load_model(tmp_path / "m")
        assert type(loaded) is type(model) and loaded.resolved_config() == model.resolved_config()
        with torch.no_grad():
            a, b = tensors(self.run(model, fusion)), tensors(self.run(loaded, fusion))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_seed_determinism(self, fusion):
        a, b, c = self.make(fusion, 0), self.make(fusion, 0), self.make(fusion, 1)
        sa, sb, sc = (m.state_dict() for m in (a, b, c))
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
        with torch.no_grad():
            oa, ob = tensors(self.run(a.eval(), fusion)), tensors(self.run(b.eval(), fusion))
        assert all(torch.equal(oa[k], ob[k]) for k in oa)

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_empty_knowledge(self, fusion):
        model = self.make(fusion).eval()
        with torch.no_grad():
            empty = tensors(self.run(model, fusion, empty=True))
            none = tensors(self.run(model, fusion, knowledge=None))
        for k, v in empty.items():
            if "logit" not in k and "scores" not in k:
                assert torch.isfinite(v).all(), k
        if getattr(FUSION.get(fusion), "needs_graph", False):
            return  # a graph of context nodes only is not "no graph" (gnn still runs its exchange)
        for k in set(empty) & set(none):
            if empty[k].shape == none[k].shape and not k.startswith("extras."):
                torch.testing.assert_close(empty[k], none[k], msg=k)

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_mixed_batch_example_without_knowledge_is_unaffected(self, fusion):
        """Example 1 (no mention) encodes as it does alone with empty knowledge."""
        model = self.make(fusion).eval()
        needs_graph = getattr(FUSION.get(fusion), "needs_graph", False)
        one = {k: v[1:2] for k, v in inputs().items()}
        alone_kb = KnowledgeBatch.collate(
            [ExampleKnowledge(nodes=[] if needs_graph else None)], with_graph=needs_graph
        )
        with torch.no_grad():
            mixed = self.run(model, fusion)
            alone = model(**one, knowledge=alone_kb)
        torch.testing.assert_close(mixed.text_hidden[1, :L], alone.text_hidden[0, :L], atol=1e-5, rtol=1e-4)

    def test_fusion_changes_the_output(self):
        """Knowledge reaches the output: a fused model differs from its own output on empty knowledge."""
        for fusion in FUSIONS:
            if fusion == "none":
                continue
            model = self.make(fusion).eval()
            with torch.no_grad():
                full = self.run(model, fusion).text_hidden[0, :L]
                empty = self.run(model, fusion, empty=True).text_hidden[0, :L]
            assert not torch.allclose(full, empty), f"{fusion}: knowledge has no effect on the text"
