"""``knowbert``: KnowBERT's knowledge attention and recontextualisation (Peters et al., 2019,
"Knowledge Enhanced Contextual Word Representations", EMNLP).

Inserted after one host layer (or several, each with its own parameters), the knowledge
attention and recontextualisation component (KAR):

1. project the hidden states to the entity size and pool each mention's span (self-attentive
   span pooling over its text tokens; an object region is its one position): ``s_m``;
2. contextualise the spans with one transformer layer across the mentions of the example;
3. score each candidate entity ``e_mk`` of mention m with an MLP over ``[s_m . e_mk, prior_mk]``
   (KnowBERT's integrated entity linker); candidates scoring below ``threshold`` are dropped and
   the rest softmax-weighted: ``ẽ_m = sum_k softmax(ψ_mk) e_mk`` (the zero NULL entity when none
   is left);
4. recontextualise, ``recontextualize: span`` (default): ``ẽ_m`` is projected to the hidden size
   and added back to the tokens of the span, with a residual LayerNorm:
   ``w_j' = LayerNorm(w_j + W ẽ_m)``; ``recontextualize: attention`` is KnowBERT's own
   word-to-entity-span attention: every projected token attends over the entity-enhanced spans
   ``s'_m = s_m + ẽ_m``, and ``w_j' = LayerNorm(w_j + W attn_j)``.

With ``span`` only the tokens (or regions) of mentions with a surviving candidate change, so an
example without mentions, or whose mentions all fall to NULL, is computed exactly as without
fusion. With ``attention`` every token of an example with at least one mention changes; an
example without mentions is still exactly unchanged.
``ctx.extras["linking_scores"]`` ``(B, M, C + 1)`` holds the NULL score (the threshold, column 0)
and ψ (columns 1..C, ``-10000`` for padded candidates), for KnowBERT's entity-linking loss
(cross-entropy with target 0 for NIL mentions, 1 + k for candidate k).

Shapes:
    hidden ``(B, T, D)``; spans ``(B, M, E)`` (``E = entity_dim``); candidates ``(B, M, C, E)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.models.fusion.base import (
    FUSION,
    FusionConfig,
    FusionContext,
    FusionModule,
    masked_softmax,
    mention_alignment,
    safe_key_padding,
)

#: linking score of a padded candidate slot
MASKED_SCORE = -10000.0


@dataclass
class KnowBertConfig(FusionConfig):
    """Options of :class:`KnowBertFusion`.

    Attributes:
        layers: host layers after which the KAR runs (default: the one below the top, as
            KnowBERT-Wiki's layer 10 of 12).
        dropout: dropout on the recontextualised vector (default 0.1).
        threshold: candidates with ψ below it are dropped (KnowBERT's δ; default 0.0); also the
            NULL entity's score in ``linking_scores``.
        mlp_hidden: width of the candidate-scoring MLP (default 16).
        span_heads: heads of the span transformer layer and of the word-to-span attention
            (default 1; must divide entity_dim); 0 skips the span contextualisation.
        recontextualize: ``span`` (default: add the entity back to its span's tokens) or
            ``attention`` (KnowBERT's word-to-entity-span attention over all tokens).
    """

    threshold: float = 0.0
    mlp_hidden: int = 16
    span_heads: int = 1
    recontextualize: Literal["span", "attention"] = "span"


class KnowledgeAttention(nn.Module):
    """The parameters of one KAR."""

    def __init__(
        self, d: int, e: int, mlp_hidden: int, span_heads: int, dropout: float, word_attention: bool
    ) -> None:
        super().__init__()
        self.down = nn.Linear(d, e)  # hidden -> entity space
        # self-attentive span pooling; no bias: a constant added to every logit leaves the softmax as it is
        self.span_score = nn.Linear(e, 1, bias=False)
        self.span_layer = (
            nn.TransformerEncoderLayer(
                e, span_heads, dim_feedforward=2 * e, dropout=dropout, batch_first=True
            )
            if span_heads
            else None
        )
        self.scorer = nn.Sequential(nn.Linear(2, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, 1))
        self.word_attention = (
            nn.MultiheadAttention(e, max(span_heads, 1), dropout=dropout, batch_first=True)
            if word_attention
            else None
        )
        self.up = nn.Linear(e, d)  # weighted entity (or attended spans) -> hidden
        self.norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)


@FUSION.register("knowbert", aliases=("kar",))
class KnowBertFusion(FusionModule):
    """KnowBERT's knowledge attention and recontextualisation after chosen host layers.

    Attributes:
        kar: one :class:`KnowledgeAttention` per fusion layer, keyed by the layer index.
    """

    config_class = KnowBertConfig

    def __init__(self, config: KnowBertConfig | None = None, **host) -> None:
        super().__init__(config, **host)
        c = self.config
        if c.recontextualize not in ("span", "attention"):
            raise KemmError(
                f"knowbert: recontextualize must be 'span' or 'attention', got {c.recontextualize!r}"
            )
        if c.span_heads and self.entity_dim % c.span_heads:
            raise KemmError(
                f"knowbert: span_heads={c.span_heads} does not divide entity_dim={self.entity_dim}"
            )
        self.layers = self.fusion_layers([max(self.num_layers - 2, 0)])
        self.kar = nn.ModuleDict(
            {
                str(i): KnowledgeAttention(
                    self.hidden_size,
                    self.entity_dim,
                    c.mlp_hidden,
                    c.span_heads,
                    c.dropout,
                    word_attention=c.recontextualize == "attention",
                )
                for i in self.layers
            }
        )

    def after_layer(self, index: int, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        if str(index) not in self.kar:
            return hidden
        kar = cast(KnowledgeAttention, self.kar[str(index)])
        kb = ctx.knowledge
        align, valid = mention_alignment(ctx, hidden.shape[1])  # (B, M, T), (B, M)
        align = align.to(hidden.dtype)
        # 1. span pooling in the entity space
        proj = kar.down(hidden)  # (B, T, E)
        logits = kar.span_score(proj).squeeze(-1)  # (B, T)
        weights = masked_softmax(logits[:, None, :].expand_as(align), align > 0)  # (B, M, T)
        spans = weights @ proj  # (B, M, E)
        # 2. contextualise the spans across mentions
        if kar.span_layer is not None:
            spans = kar.span_layer(spans, src_key_padding_mask=safe_key_padding(valid)) * valid[..., None]
        # 3. entity linker: ψ = MLP([s . e, prior]); NULL below the threshold
        cand = ctx.entities(kb.candidate_ids).to(hidden.dtype)  # (B, M, C, E)
        dot = (spans[:, :, None, :] * cand).sum(-1)  # (B, M, C)
        feats = torch.stack([dot, kb.candidate_priors.to(hidden.dtype)], dim=-1)  # (B, M, C, 2)
        psi = kar.scorer(feats).squeeze(-1)  # (B, M, C)
        real = (kb.candidate_ids >= 0) & valid[..., None]  # (B, M, C)
        keep = real & (psi >= self.config.threshold)
        att = masked_softmax(psi, keep)  # (B, M, C)
        chosen = (att[..., None] * cand).sum(2)  # (B, M, E): 0 = the NULL entity
        null = torch.full_like(psi[..., :1], self.config.threshold)  # (B, M, 1)
        ctx.extras["linking_scores"] = torch.cat([null, psi.masked_fill(~real, MASKED_SCORE)], dim=-1)
        if kar.word_attention is not None:  # 4. KnowBERT: every token attends over the enhanced spans
            enhanced = spans + chosen  # (B, M, E)
            att, _ = kar.word_attention(proj, enhanced, enhanced, key_padding_mask=safe_key_padding(valid))
            out = kar.norm(hidden + kar.dropout(kar.up(att)))  # (B, T, D)
            return torch.where(valid.any(-1)[:, None, None], out, hidden)  # (B, T, D)
        # 4. recontextualise the span's positions
        fused = keep.any(-1)  # (B, M) mentions with an entity
        cover = align * fused[..., None]  # (B, M, T)
        add = cover.transpose(1, 2) @ kar.up(chosen)  # (B, T, D)
        out = kar.norm(hidden + kar.dropout(add))  # (B, T, D)
        return torch.where((cover.sum(1) > 0)[..., None], out, hidden)  # (B, T, D)
