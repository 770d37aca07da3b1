"""``tokens``: linked entities appended to the sequence as extra tokens.

The simplest fusion, as in the entity-token inputs of K-BERT (Liu et al., 2020, "K-BERT: Enabling
Language Representation with Knowledge Graph", AAAI) and of KB-VLP / KVL-BERT-style vision-language
models: each mention's projected KG embedding becomes one more token of the stream, with its own
type embedding, and the host's self-attention does the fusion in every layer. Optionally the token
also gets the mean of the host's input vectors at the positions the mention came from (its text
span or object region), which carries the host's own position embedding of the mention.

Only mentions of the modalities this stream holds become tokens (in a dual-stream model the text
stream gets the text mentions, the image stream the object regions); NIL mentions are skipped.
Examples with fewer mentions get masked padding tokens (``attention_mask`` 0), so an example
without any mention attends exactly as without fusion; the appended tokens still get hidden
states (ignored by heads that read the text or ``[CLS]``).

Shapes:
    begin: hidden ``(B, T, D)`` -> ``(B, T + M, D)``; ``ctx.attention_mask`` ``(B, T)`` -> ``(B, T + M)``;
    ``ctx.layout.knowledge = slice(T, T + M)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.models.fusion.base import FUSION, FusionConfig, FusionContext, FusionModule, mention_alignment


@dataclass
class TokensConfig(FusionConfig):
    """Options of :class:`TokenFusion`.

    Attributes:
        layers: unused (the tokens enter before the first layer).
        dropout: dropout on the entity tokens (default 0.1).
        add_mention: add the mean of the host's input vectors at the mention's positions
            (default True); False gives position-free entity tokens.
        layer_norm: LayerNorm on the entity tokens (default True), as the host's embeddings have.
    """

    add_mention: bool = True
    layer_norm: bool = True


@FUSION.register("tokens", aliases=("entity_tokens",))
class TokenFusion(FusionModule):
    """Projected entity embeddings appended as extra tokens with a knowledge type embedding.

    Attributes:
        project: ``Linear(entity_dim, hidden_size)``.
        type_embedding: ``(hidden_size,)`` added to every entity token.
    """

    config_class = TokensConfig
    extends_sequence = True

    def __init__(self, config: TokensConfig | None = None, **host) -> None:
        super().__init__(config, **host)
        d = self.hidden_size
        self.project = nn.Linear(self.entity_dim, d)
        self.type_embedding = nn.Parameter(torch.zeros(d))
        self.norm = nn.LayerNorm(d) if self.config.layer_norm else nn.Identity()
        self.dropout = nn.Dropout(self.config.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.project.reset_parameters()
        nn.init.normal_(self.type_embedding, std=0.02)

    def begin(self, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        if ctx.layout.knowledge is not None:
            raise KemmError("fusion 'tokens': the sequence already has knowledge tokens")
        b, t, _ = hidden.shape
        kb = ctx.knowledge
        tok = self.project(ctx.entities(kb.entity_ids))  # (B, M, D)
        tok = tok + self.type_embedding
        align, valid = mention_alignment(ctx, t, need_entity=True)  # (B, M, T), (B, M)
        if self.config.add_mention:
            span = align @ hidden / align.sum(-1, keepdim=True).clamp_min(1.0)  # (B, M, D)
            tok = tok + span
        tok = self.dropout(self.norm(tok)) * valid[..., None]  # (B, M, D)
        m = tok.shape[1]
        mask = ctx.attention_mask
        ctx.attention_mask = torch.cat([mask, valid.to(mask.dtype)], dim=1)  # (B, T + M)
        ctx.layout = dataclasses.replace(ctx.layout, knowledge=slice(t, t + m))
        return torch.cat([hidden, tok.to(hidden.dtype)], dim=1)  # (B, T + M, D)
