"""Typed outputs of the architectures and heads (Hugging Face ``ModelOutput`` dataclasses).

Shapes: ``B`` examples, ``T`` joint sequence, ``L`` text tokens, ``P`` image tokens (the image
[CLS] first, then the patches), ``R`` object regions, ``K`` knowledge tokens, ``D`` hidden size.
A modality absent from the input is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput

from kemm.models.fusion.base import SequenceLayout


@dataclass
class SingleStreamOutput(ModelOutput):
    """Output of :class:`kemm.models.single_stream.SingleStreamModel`.

    Attributes:
        last_hidden_state: ``(B, T, D)`` the joint sequence after the last layer.
        pooler_output: ``(B, D)`` the text encoder's pooler on the text [CLS] (ITM, classification).
        text_hidden: ``(B, L, D)``; image_hidden ``(B, P, D)``; region_hidden ``(B, R, D)``;
            knowledge_hidden ``(B, K, D)`` (tokens a fusion module appended).
        attention_mask: ``(B, T)`` of the joint sequence, 1 = real token.
        layout: where each modality sits along ``T``.
        extras: what the fusion module left for heads and losses (e.g. ``"graph_pooled"`` ``(B, D)``).
    """

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    text_hidden: torch.Tensor | None = None
    image_hidden: torch.Tensor | None = None
    region_hidden: torch.Tensor | None = None
    knowledge_hidden: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    layout: SequenceLayout | None = None
    extras: dict[str, torch.Tensor] | None = None


@dataclass
class DualStreamOutput(ModelOutput):
    """Output of :class:`kemm.models.dual_stream.DualStreamModel`.

    Attributes:
        text_hidden: ``(B, L', D)`` the text stream after the co-attention layers (``L'`` = L plus
            any knowledge tokens a text fusion module appended); vision_hidden ``(B, P' + R, D)``.
        pooler_output: ``(B, D)`` pooled text [CLS] after co-attention (LXMERT's cross-modal output).
        image_hidden: ``(B, P, D)`` and region_hidden ``(B, R, D)``: slices of ``vision_hidden``.
        text_mask / vision_mask: ``(B, L')`` / ``(B, P' + R)``, 1 = real token.
        text_layout / vision_layout: where each modality sits in each stream.
        extras: fusion extras; a vision-stream module's keys carry a ``vision_`` prefix.
    """

    text_hidden: torch.Tensor | None = None
    vision_hidden: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    image_hidden: torch.Tensor | None = None
    region_hidden: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None
    vision_mask: torch.Tensor | None = None
    text_layout: SequenceLayout | None = None
    vision_layout: SequenceLayout | None = None
    extras: dict[str, torch.Tensor] | None = None

    @property
    def last_hidden_state(self) -> torch.Tensor | None:
        """The text stream (what token-level heads read)."""
        return self.text_hidden


@dataclass
class DualEncoderOutput(ModelOutput):
    """Output of :class:`kemm.models.dual_encoder.DualEncoderModel`.

    Attributes:
        text_embeds: ``(B, E)`` unit-length projected text [CLS]; image_embeds ``(B, E)`` the image's.
        logits_per_text: ``(B, B)`` scaled cosine similarities text x image (``logits_per_image``
            its transpose); None unless both modalities are given.
        text_hidden: ``(B, L', Dt)`` text tower output; vision_hidden ``(B, P + R, Dv)``.
        text_pooled / image_pooled: ``(B, Dt)`` / ``(B, Dv)`` before projection.
        region_hidden: ``(B, R, Dv)`` object regions in the image tower.
        text_mask / vision_mask: 1 = real token.
        extras: fusion extras; an image-tower module's keys carry a ``vision_`` prefix.
    """

    text_embeds: torch.Tensor | None = None
    image_embeds: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    logits_per_image: torch.Tensor | None = None
    text_hidden: torch.Tensor | None = None
    vision_hidden: torch.Tensor | None = None
    text_pooled: torch.Tensor | None = None
    image_pooled: torch.Tensor | None = None
    region_hidden: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None
    vision_mask: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] | None = None

    @property
    def last_hidden_state(self) -> torch.Tensor | None:
        return self.text_hidden


@dataclass
class VQAHeadOutput(ModelOutput):
    """Output of :class:`kemm.models.heads.VQAHead`.

    Attributes:
        answer_logits: ``(B, A)`` classifier over the answer vocabulary.
        entity_logits: ``(B, N)`` pointer over the candidate KG entities (-inf where padded).
        gate: ``(B, 1)`` probability of answering from the vocabulary rather than the KG.
        log_probs: ``(B, A + N)`` log of the combined answer distribution: ``gate * softmax(answer)``
            then ``(1 - gate) * softmax(entity)``; index ``a < A`` is vocabulary answer ``a``, index
            ``A + n`` is candidate entity ``n``.
    """

    answer_logits: torch.Tensor | None = None
    entity_logits: torch.Tensor | None = None
    gate: torch.Tensor | None = None
    log_probs: torch.Tensor | None = None


@dataclass
class ClozeHeadOutput(ModelOutput):
    """Output of :class:`kemm.models.heads.ClozeHead`: ``word_logits`` ``(B, V)`` over the word
    vocabulary and ``entity_logits`` ``(B, N)`` over the KG entities, at each example's blank."""

    word_logits: torch.Tensor | None = None
    entity_logits: torch.Tensor | None = None
