"""Tiny model and batch shared by the pre-training tests (hidden 32, 2 layers, 32-px images, 12 entities).

:class:`ObjectiveTestCase` is the generic test of an objective: each objective's test module
subclasses it and sets ``name``; the meta-test in ``test_objectives.py`` fails when a registered
objective has none.
"""

from __future__ import annotations

import torch

from kemm.models import build_model
from kemm.models.configuration import TINY_VIT
from kemm.models.entities import EntityEmbeddings
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives import HostSizes, StepContext, build_objective

TEXT = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "vocab_size": 64,
    "max_position_embeddings": 32,
}
NUM_ENTITIES, ENTITY_DIM, NUM_RELATIONS = 12, 16, 3
B, L, R = 4, 8, 2


class TinyTokenizer:
    """What the MLM masking reads of a tokenizer: special ids, [MASK], length."""

    mask_token = "[MASK]"
    all_special_ids = [0, 1, 2, 3]  # pad, cls, sep, mask
    pad_token_id = 0

    def __len__(self) -> int:
        return TEXT["vocab_size"]

    def convert_tokens_to_ids(self, token: str) -> int:
        return 3

    def get_special_tokens_mask(self, ids, already_has_special_tokens=True):
        return [int(i in self.all_special_ids) for i in ids]


def host(model=None) -> HostSizes:
    """The sizes of :func:`tiny_model`; with ``model``, its word embeddings (the MLM decoder)."""
    words = model.get_input_embeddings() if model is not None else None
    return HostSizes(32, TEXT["vocab_size"], NUM_ENTITIES, ENTITY_DIM, NUM_RELATIONS, TinyTokenizer(), words)


def tiny_model(fusion: str = "ernie", seed: int = 0):
    torch.manual_seed(seed)
    vectors = torch.randn(NUM_ENTITIES, ENTITY_DIM, generator=torch.Generator().manual_seed(7))
    entities = EntityEmbeddings.from_tensor(vectors, mode="finetune")
    return build_model(
        "single-stream",
        entities=entities,
        text=TEXT,
        vision=TINY_VIT,
        vision_encoder=True,
        fusion=fusion,
        num_relations=NUM_RELATIONS,
    )


def tiny_batch(seed: int = 0) -> PretrainBatch:
    """Four pairs, the first two captions of one image; text and region mentions; subgraphs."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, TEXT["vocab_size"], (B, L), generator=g)
    ids[:, 0], ids[:, -1] = 1, 2
    mask = torch.ones(B, L, dtype=torch.long)
    mask[3, 6:] = 0
    ids[3, 6:] = 0
    pixels = torch.randn(B, 3, 32, 32, generator=g)
    pixels[1] = pixels[0]
    boxes = torch.tensor([[0, 0, 16, 16], [16, 16, 32, 32]], dtype=torch.float).expand(B, R, 4).clone()
    region_entity = torch.tensor([[4, 5], [4, 5], [6, -1], [7, 8]])
    region_mask = torch.tensor([[1, 1], [1, 1], [1, 0], [1, 1]], dtype=torch.bool)

    def example(text: list[tuple[int, int, int]], regions: list[tuple[int, int]], nodes: list[int]):
        mentions = [Mention(e, "text", start=s, end=t, candidates=[e]) for e, s, t in text]
        mentions += [Mention(e, "region", region=r, candidates=[e]) for e, r in regions]
        edges = [(i, i % NUM_RELATIONS, i + 1) for i in range(len(nodes) - 1)]
        return ExampleKnowledge(mentions, nodes=nodes, node_types=["question"] * len(nodes), edges=edges)

    kb = KnowledgeBatch.collate(
        [
            example([(4, 1, 2), (5, 3, 5)], [(4, 0), (5, 1)], [4, 5, 0, 1]),
            example([(5, 2, 3)], [(4, 0), (5, 1)], [5, 4, 2]),
            example([(6, 1, 3)], [(6, 0)], [6, 9, 10]),
            example([], [], []),
        ]
    )
    return PretrainBatch(
        input_ids=ids,
        attention_mask=mask,
        pixel_values=pixels,
        image_ids=torch.tensor([0, 0, 1, 2]),
        knowledge=kb,
        boxes=boxes,
        region_mask=region_mask,
        region_entity=region_entity,
    )


def run_objective(name: str, options: dict | None = None, seed: int = 0, fusion: str = "ernie"):
    """``(objective, output, model)`` of one step of ``name`` on the tiny batch (ITM after ITC)."""
    model = tiny_model(fusion, seed)
    torch.manual_seed(seed)
    names = ["itc", name] if name == "itm" else [name]
    objs = [build_objective(n, options if n == name else None, host(model)) for n in names]
    gen = torch.Generator().manual_seed(seed)
    batch = tiny_batch()
    corrupted = batch
    for o in objs:
        corrupted = o.corrupt(corrupted, gen)
    ctx = StepContext(model, batch, corrupted, gen)
    outs = [o(ctx) for o in objs]
    return objs[-1], outs[-1], model


class ObjectiveTestCase:
    """Shapes, a backward pass reaching the objective's heads and the model, determinism."""

    name = ""
    options: dict = {}

    def test_loss_backward(self):
        obj, out, model = run_objective(self.name, self.options)
        assert out.loss.ndim == 0 and torch.isfinite(out.loss)
        assert float(out.loss.detach()) > 0
        out.loss.backward()
        grads = [p.grad for p in obj.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.text.parameters())

    def test_deterministic(self):
        _, a, _ = run_objective(self.name, self.options, seed=1)
        _, b, _ = run_objective(self.name, self.options, seed=1)
        assert torch.equal(a.loss, b.loss)
        assert a.logs == b.logs

    def test_baseline_model(self):
        _, out, _ = run_objective(self.name, self.options, fusion="none")
        assert torch.isfinite(out.loss)
