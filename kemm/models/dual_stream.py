"""Dual-stream vision-language transformer with co-attention (LXMERT / ViLBERT style).

A text stack (the text encoder's own layers) and a vision stack (the ViT's own layers, over the
image patches and the object regions) run separately, each optionally with its own fusion module
(``fusion_streams``); then ``num_cross_layers`` co-attention layers join them: each stream
cross-attends to the other, then runs self-attention and a feed-forward block. Every block is a
Hugging Face module (``BertAttention`` with ``is_cross_attention=True``, the encoder's layer class);
nothing re-implements attention.

Streams, along their own sequences::

    text:   [CLS] text ... [SEP] | knowledge tokens (a text fusion module's)
    vision: [IMG] patch_1 ... patch_P | region_1 ... region_R | knowledge tokens (a vision module's)
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from transformers.models.bert.modeling_bert import BertAttention

from kemm.errors import KemmError
from kemm.models.backbones import (
    RegionEmbedding,
    attention_bias,
    backbone_dict,
    cross_attention_bias,
    load_text_encoder,
    load_vision_encoder,
    patch_grid,
    run_layers,
)
from kemm.models.base import ARCHITECTURES, KemmPreTrainedModel
from kemm.models.configuration import DualStreamConfig
from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion.base import FusionContext, SequenceLayout
from kemm.models.knowledge import KnowledgeBatch
from kemm.models.outputs import DualStreamOutput


class CoAttentionLayer(nn.Module):
    """One cross-modality layer (LXMERT's X-layer) from HF parts.

    Shapes:
        text: (B, Lt, D), vision: (B, Lv, D) -> the same shapes
    """

    def __init__(self, config, layer_class: type[nn.Module]) -> None:
        super().__init__()
        self.text_cross = BertAttention(config, is_cross_attention=True)
        self.vision_cross = BertAttention(config, is_cross_attention=True)
        self.text_layer = layer_class(config)
        self.vision_layer = layer_class(config)

    def forward(self, text, vision, text_bias, vision_bias, text_to_vision, vision_to_text):
        t, _ = self.text_cross(text, encoder_hidden_states=vision, encoder_attention_mask=text_to_vision)
        v, _ = self.vision_cross(vision, encoder_hidden_states=text, encoder_attention_mask=vision_to_text)
        t = self.text_layer(t, text_bias)
        v = self.vision_layer(v, vision_bias)
        return (t[0] if isinstance(t, tuple) else t), (v[0] if isinstance(v, tuple) else v)


@ARCHITECTURES.register("dual-stream", aliases=("lxmert", "vilbert"))
class DualStreamModel(KemmPreTrainedModel):
    """A text stack and a vision stack joined by co-attention layers; see the module docstring.

    Args:
        config: a :class:`DualStreamConfig`.
        entities: the KG entity table (see :class:`~kemm.models.base.KemmPreTrainedModel`).
    """

    config_class = DualStreamConfig
    vision: Any  # the Hugging Face ViTModel

    def __init__(self, config: DualStreamConfig, entities: EntityEmbeddings | None = None) -> None:
        super().__init__(config, entities)
        self.text = load_text_encoder(config.text)
        tc = self.text.config
        self.vision = load_vision_encoder(config.vision)
        vc = self.vision.config
        self.region_embed = RegionEmbedding(
            vc.hidden_size, patch_grid(vc), use_boxes=config.region_box_features
        )
        self.region_type = nn.Embedding(1, vc.hidden_size)  # (1, Dv) added to region tokens
        self.vision_proj = nn.Linear(vc.hidden_size, tc.hidden_size)
        cross_config = copy.deepcopy(tc)
        layer_class = type(self.text.encoder.layer[0])
        self.cross_layers = nn.ModuleList(
            [CoAttentionLayer(cross_config, layer_class) for _ in range(config.num_cross_layers)]
        )
        self.text_fusion = self._fusion(tc.hidden_size, tc.num_hidden_layers, "text" in config.fusion_streams)
        self.vision_fusion = self._fusion(
            vc.hidden_size, vc.num_hidden_layers, "vision" in config.fusion_streams
        )
        self._init_new(self.region_embed, self.region_type, self.vision_proj, self.cross_layers)

    def backbone_dicts(self) -> dict:
        return {"text": backbone_dict(self.text), "vision": backbone_dict(self.vision)}

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        region_mask: torch.Tensor | None = None,
        knowledge: KnowledgeBatch | None = None,
    ) -> DualStreamOutput:
        """Encode one batch (both modalities are required).

        Shapes:
            input_ids, attention_mask, token_type_ids: (B, L); pixel_values: (B, 3, H, W)
            boxes: (B, R, 4) ``(x0, y0, x1, y1)`` pixels; region_mask: (B, R)
        """
        if pixel_values is None:
            raise KemmError("the dual-stream model needs an image (pixel_values) for its vision stream")
        b, length = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        knowledge = self.check_knowledge(knowledge, b, input_ids.device)

        # text stack
        text = self.text.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, L, Dt)
        tctx = FusionContext(knowledge, self.entities, SequenceLayout(text=slice(0, length)), attention_mask)  # type: ignore[arg-type]
        text = self.text_fusion.begin(text, tctx)
        text = run_layers(self.text.encoder.layer, text, self.text_fusion, tctx, self.text.config)

        # vision stack: [IMG] + patches, then regions
        dtype = self.vision.embeddings.patch_embeddings.projection.weight.dtype
        image = self.vision.embeddings(pixel_values.to(dtype))  # (B, 1 + P, Dv)
        parts, masks = [image], [attention_mask.new_ones(b, image.shape[1])]
        vlayout = SequenceLayout(patches=slice(0, image.shape[1]))
        if boxes is not None:
            size = (pixel_values.shape[-2], pixel_values.shape[-1])
            regions = self.region_embed(image[:, 1:], boxes, size) + self.region_type.weight[0]  # (B, R, Dv)
            vlayout.regions = slice(image.shape[1], image.shape[1] + regions.shape[1])
            parts.append(regions)
            masks.append(
                (region_mask if region_mask is not None else attention_mask.new_ones(b, regions.shape[1])).to(
                    attention_mask.dtype
                )
            )
        vision = torch.cat(parts, dim=1)  # (B, Lv, Dv)
        vctx = FusionContext(knowledge, self.entities, vlayout, torch.cat(masks, dim=1))  # type: ignore[arg-type]
        vision = self.vision_fusion.begin(vision, vctx)
        vision = run_layers(self.vision.layers, vision, self.vision_fusion, vctx, self.vision.config)
        vision = self.vision_proj(self.vision.layernorm(vision))  # (B, Lv, Dt)

        # co-attention
        cfg = self.text.config
        t_mask, v_mask = tctx.attention_mask, vctx.attention_mask
        biases = (
            attention_bias(cfg, text, t_mask),
            attention_bias(cfg, vision, v_mask),
            cross_attention_bias(cfg, text, vision, v_mask),
            cross_attention_bias(cfg, vision, text, t_mask),
        )
        for layer in self.cross_layers:
            text, vision = layer(text, vision, *biases)
        pooler = getattr(self.text, "pooler", None)
        extras = dict(tctx.extras) | {f"vision_{k}": v for k, v in vctx.extras.items()}
        return DualStreamOutput(
            text_hidden=text,
            vision_hidden=vision,
            pooler_output=pooler(text) if pooler is not None else text[:, 0],
            image_hidden=vision[:, vctx.layout.patches],
            region_hidden=vision[:, vctx.layout.regions] if vctx.layout.regions is not None else None,
            text_mask=t_mask,
            vision_mask=v_mask,
            text_layout=tctx.layout,
            vision_layout=vctx.layout,
            extras=extras,
        )

    def get_input_embeddings(self) -> nn.Embedding:
        return self.text.embeddings.word_embeddings
