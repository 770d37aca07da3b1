"""``link-prediction``: KG link prediction on the retrieved subgraphs (DRAGON, Yasunaga et al., 2022).

Of each example's subgraph edges (context edges excluded), a fraction ``probability`` is held
out: removed from the graph the model sees. A KGE decoder (``distmult`` and ``transe`` from
:data:`kemm.embeddings.decoders.DECODERS`; ``rotate`` here, since that registry has no RotatE
decoder) scores each held-out edge ``(h, r, t)`` from the node states against ``num_negatives``
corrupted tails drawn uniformly from the nodes of the same subgraph, with RotatE's
self-adversarial loss (``nssa`` of :mod:`kemm.embeddings.losses`).

Node states: a graph fusion module's own, when it leaves them in ``extras["node_states"]``
``(N, Dn)``; otherwise each node's KG vector plus the fused state of the text mentions linked to
the node's entity (mean over the mention's tokens, zero for a node no caption mentions), each
projected to the decoder's dimension.

Shapes: graph nodes (N,), edges (2, E); held-out edges (H, 3) ``(head node, relation, tail node)``
as node indices of the batch graph; negatives (H, K); node states (N, Dk).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from kemm.embeddings.decoders import DECODERS
from kemm.embeddings.losses import build_loss
from kemm.errors import KemmError
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
    zero_loss,
)
from kemm.pretraining.objectives.entity_denoising import aligned_text_mentions, mention_states


@dataclass
class LinkPredictionConfig(ObjectiveConfig):
    """Options of :class:`LinkPrediction`.

    Attributes:
        decoder: ``distmult`` (default), ``transe`` or ``rotate``.
        dim: decoder dimension (even for ``rotate``: ``dim / 2`` complex coordinates).
        probability: fraction of each subgraph's KG edges held out (DRAGON: 0.15).
        num_negatives: corrupted tails per held-out edge.
        margin: ``gamma`` of the self-adversarial loss (RotatE / TransE: about 6-12; DistMult: 0-1).
        adversarial_temperature: ``alpha`` of the self-adversarial weights (RotatE: 1.0).
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    decoder: Literal["distmult", "transe", "rotate"] = "distmult"
    dim: int = 64
    probability: float = 0.15
    num_negatives: int = 8
    margin: float = 1.0
    adversarial_temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.decoder not in ("distmult", "transe", "rotate"):
            raise KemmError(
                f"link-prediction: decoder must be distmult, transe or rotate, got {self.decoder!r}"
            )
        if self.decoder == "rotate" and self.dim % 2:
            raise KemmError(f"link-prediction: rotate needs an even dim, got {self.dim}")


class RotatEDecoder:
    """``-sum_i |h_i * r_i - t_i|`` with ``r_i = exp(i theta_i)`` (Sun et al., 2019); h and t are
    ``[re | im]`` ``(..., 2d)``, r the phases ``(..., d)``. (``DECODERS`` has no RotatE decoder.)"""

    registered_name = "rotate"

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        hr, hi = h.chunk(2, dim=-1)
        tr, ti = t.chunk(2, dim=-1)
        cr, ci = torch.cos(r), torch.sin(r)
        dr = hr * cr - hi * ci - tr
        di = hr * ci + hi * cr - ti
        return -torch.sqrt(dr * dr + di * di + 1e-9).sum(-1)


def build_decoder(name: str):
    """A decoder by name: :data:`DECODERS` first, then :class:`RotatEDecoder`."""
    if name in DECODERS:
        return DECODERS.build(name)
    if name == "rotate":
        return RotatEDecoder()
    raise KemmError(f"unknown link-prediction decoder {name!r}")


def hold_out_edges(graph, probability: float, num_negatives: int, generator: torch.Generator):
    """Remove a random ``probability`` share of the KG edges of a batch graph.

    Returns:
        ``(graph without them, edges (H, 3), negatives (H, K))``; negatives are tail nodes drawn
        uniformly from the non-context nodes of the edge's own subgraph.
    """
    kg_edge = graph.edge_type >= 0  # (E,) context edges have relation -1
    held = kg_edge & (torch.rand(kg_edge.shape, generator=generator) < probability)
    kept = graph.clone()
    kept.edge_index = graph.edge_index[:, ~held]
    kept.edge_type = graph.edge_type[~held]
    h, t = graph.edge_index[:, held]  # (H,), (H,)
    edges = torch.stack([h, graph.edge_type[held], t], dim=1)  # (H, 3)
    example = graph.batch[h]  # (H,)
    start = graph.ptr[example]  # (H,)
    real = (graph.ptr[example + 1] - start - 1).clamp_min(1)  # non-context nodes (context is last)
    u = torch.rand((len(h), num_negatives), generator=generator)
    negatives = start[:, None] + (u * real[:, None]).long()  # (H, K)
    return kept, edges, negatives


@OBJECTIVES.register("link-prediction", aliases=("lp", "kg-link-prediction"))
class LinkPrediction(Objective):
    """KG link prediction on the subgraphs; see the module docstring. Targets: ``lp_edges``, ``lp_negatives``."""

    config_class = LinkPredictionConfig

    def __init__(self, config: LinkPredictionConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        c = self.config
        if not host.num_entities or not host.num_relations:
            raise KemmError("link-prediction needs a KG (num_entities and num_relations > 0)")
        self.decoder = build_decoder(c.decoder)
        self.loss_fn = build_loss("nssa", margin=c.margin, adversarial_temperature=c.adversarial_temperature)
        self.entity_proj = nn.Linear(host.entity_dim, c.dim)
        self.state_proj = nn.Linear(host.hidden_size, c.dim)
        self.relations = nn.Embedding(host.num_relations, c.dim // 2 if c.decoder == "rotate" else c.dim)
        nn.init.normal_(self.relations.weight, std=0.1)

    def corrupt(self, batch: PretrainBatch, generator: torch.Generator) -> PretrainBatch:
        kb = batch.knowledge
        if kb.graph is None:
            return batch
        c = self.config
        graph, edges, negatives = hold_out_edges(kb.graph, c.probability, c.num_negatives, generator)
        out = batch.replace(knowledge=dataclasses.replace(kb, graph=graph))
        out.targets["lp_edges"] = edges
        out.targets["lp_negatives"] = negatives
        return out

    def node_states(self, ctx: StepContext, out) -> torch.Tensor:
        """``(N, dim)``: the decoder's view of every node of the batch graph."""
        extras = out.extras or {}
        graph: Any = ctx.corrupted_batch.knowledge.graph
        if "node_states" in extras and extras["node_states"].shape[0] == graph.num_nodes:
            return self.state_proj_fused(extras["node_states"])
        kb = ctx.batch.knowledge
        ent = graph.node_entity  # (N,)
        x = self.entity_proj(ctx.model.entities(ent))  # (N, dim)
        if out.text_hidden is None or not kb.num_mentions:
            return x
        reps = mention_states(out.text_hidden, kb)  # (B, M, D)
        b = graph.batch  # (N,)
        match = (
            (kb.entity_ids[b] == ent[:, None]) & aligned_text_mentions(kb)[b] & (ent[:, None] >= 0)
        )  # (N, M)
        w = match.to(reps.dtype)
        mean = (w[..., None] * reps[b]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)  # (N, D)
        return x + self.state_proj(mean)

    def state_proj_fused(self, states: torch.Tensor) -> torch.Tensor:
        if states.shape[-1] != self.config.dim:
            raise KemmError(
                f"link-prediction: the fusion module's node states have {states.shape[-1]} dims; set dim to it"
            )
        return states

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        edges = ctx.corrupted_batch.targets.get("lp_edges")
        out = ctx.corrupted()
        if edges is None or not len(edges):
            return ObjectiveOutput(zero_loss(self, out.last_hidden_state), {})
        neg = ctx.corrupted_batch.targets["lp_negatives"]  # (H, K)
        x = self.node_states(ctx, out).float()  # (N, dim)
        h, r, t = x[edges[:, 0]], self.relations(edges[:, 1]).float(), x[edges[:, 2]]  # (H, dim)
        pos = self.decoder.score(h, r, t)  # (H,)
        negs = self.decoder.score(h[:, None], r[:, None], x[neg])  # (H, K)
        loss = self.loss_fn.slcwa(pos, negs)
        acc = (pos[:, None] > negs).float().mean()
        return ObjectiveOutput(loss, {"acc/link_prediction": float(acc)})
