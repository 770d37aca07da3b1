"""``ernie``: ERNIE's knowledgeable aggregator (Zhang et al., 2019, "ERNIE: Enhanced Language
Representation with Informative Entities", ACL).

An entity stream runs beside the host's token stream. At each fusion layer the entity stream goes
through its own multi-head self-attention (residual + LayerNorm), then ERNIE's information fusion
mixes each linked position ``j`` with the entities aligned to it and splits the mix back::

    h_j  = act(W_t w_j + W_e e_j + b)                      # e_j: sum of the entities covering j
    w_j' = LayerNorm(w_j + W_t' h_j)                       # token stream, its residual LayerNorm
    e_k' = LayerNorm(e_k + W_e' mean_{j in span k} h_j)    # entity stream, its residual LayerNorm

Differences from the paper, so that the module fits any host: the token self-attention of ERNIE's
K-Encoder is the host layer itself; entities are aligned to every position of their text span or
their object region (ERNIE: the first token of the span); and only the linked positions change:
ERNIE also passes unlinked tokens through ``act(W_t w_j)``, here they keep the host's value, so an
example without mentions is computed exactly as without fusion (and tokens outside every mention
are never changed).

Shapes:
    hidden ``(B, T, D)``; entity stream ``(B, M, D)`` (projected from ``entity_dim`` once, in
    :meth:`ErnieFusion.begin`); ``ctx.state["ernie"]`` holds it between layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.models.fusion.base import (
    FUSION,
    FusionConfig,
    FusionContext,
    FusionModule,
    mention_alignment,
    safe_key_padding,
)

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass
class ErnieConfig(FusionConfig):
    """Options of :class:`ErnieFusion`.

    Attributes:
        layers: host layers after which the aggregator runs (default: the upper half, ERNIE's
            K-Encoder; negative indices count from the top).
        dropout: dropout on both fused outputs (default 0.1).
        num_heads: heads of the entity self-attention (default 4; must divide hidden_size).
        intermediate_size: width of the fusion ``h_j`` (default 0: hidden_size).
        activation: ``gelu`` (default), ``relu`` or ``tanh``.
    """

    num_heads: int = 4
    intermediate_size: int = 0
    activation: str = "gelu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise KemmError(
                f"ernie: activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )


class ErnieAggregator(nn.Module):
    """One knowledgeable aggregator (the parameters of one fusion layer)."""

    def __init__(self, d: int, inner: int, heads: int, dropout: float, act: str) -> None:
        super().__init__()
        self.entity_attention = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.entity_attention_norm = nn.LayerNorm(d)
        self.token_in = nn.Linear(d, inner)  # W_t (with the bias b)
        self.entity_in = nn.Linear(d, inner, bias=False)  # W_e
        self.act = ACTIVATIONS[act]()
        self.token_out = nn.Linear(inner, d)  # W_t'
        self.entity_out = nn.Linear(inner, d)  # W_e'
        self.token_norm = nn.LayerNorm(d)
        self.entity_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)


@FUSION.register("ernie")
class ErnieFusion(FusionModule):
    """ERNIE's entity stream and information fusion into the linked positions.

    Attributes:
        project: ``Linear(entity_dim, hidden_size)``: KG vectors into the entity stream.
        aggregators: one :class:`ErnieAggregator` per fusion layer, keyed by the layer index.
    """

    config_class = ErnieConfig

    def __init__(self, config: ErnieConfig | None = None, **host) -> None:
        super().__init__(config, **host)
        c, d = self.config, self.hidden_size
        if d % c.num_heads:
            raise KemmError(f"ernie: num_heads={c.num_heads} does not divide hidden_size={d}")
        self.layers = self.fusion_layers(list(range(self.num_layers // 2, self.num_layers)))
        self.project = nn.Linear(self.entity_dim, d)
        inner = c.intermediate_size or d
        self.aggregators = nn.ModuleDict(
            {str(i): ErnieAggregator(d, inner, c.num_heads, c.dropout, c.activation) for i in self.layers}
        )

    def begin(self, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        align, valid = mention_alignment(ctx, hidden.shape[1], need_entity=True)  # (B, M, T), (B, M)
        ent = self.project(ctx.entities(ctx.knowledge.entity_ids)) * valid[..., None]  # (B, M, D)
        ctx.state["ernie"] = {
            "entities": ent.to(hidden.dtype),
            "align": align.to(hidden.dtype),
            "valid": valid,
        }
        return hidden

    def after_layer(self, index: int, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        if str(index) not in self.aggregators:
            return hidden
        agg = cast(ErnieAggregator, self.aggregators[str(index)])
        st = ctx.state["ernie"]
        ent, align, valid = st["entities"], st["align"], st["valid"]
        if align.shape[-1] != hidden.shape[1]:
            raise KemmError(f"ernie: the sequence changed length ({align.shape[-1]} -> {hidden.shape[1]})")
        # entity stream: its own self-attention, residual LayerNorm
        att, _ = agg.entity_attention(ent, ent, ent, key_padding_mask=safe_key_padding(valid))  # (B, M, D)
        ent = agg.entity_attention_norm(ent + agg.dropout(att)) * valid[..., None]  # (B, M, D)
        # information fusion at the linked positions
        linked = align.sum(1) > 0  # (B, T)
        e_at = align.transpose(1, 2) @ ent  # (B, T, D): entities covering each position
        mix = agg.act(agg.token_in(hidden) + agg.entity_in(e_at))  # (B, T, I)
        tokens = agg.token_norm(hidden + agg.dropout(agg.token_out(mix)))  # (B, T, D)
        hidden = torch.where(linked[..., None], tokens, hidden)  # (B, T, D)
        span_mix = align @ mix / align.sum(-1, keepdim=True).clamp_min(1.0)  # (B, M, I)
        ent = agg.entity_norm(ent + agg.dropout(agg.entity_out(span_mix))) * valid[..., None]  # (B, M, D)
        st["entities"] = ent
        ctx.extras["ernie_entities"] = ent
        return hidden
