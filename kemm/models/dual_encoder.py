"""Dual encoder for contrastive retrieval (CLIP / ALBEF unimodal encoders).

A text tower (the text encoder) and an image tower (a ViT over the patches and the object regions)
encode separately; each [CLS] is projected into one ``projection_dim`` space and L2-normalised, and
``logits_per_text = exp(logit_scale) * text_embeds @ image_embeds.T``. Knowledge is fused into the
towers named in ``fusion_towers`` (each gets its own fusion module): text mentions in the text tower,
object-region mentions in the image tower. Either modality may be left out (``encode_text`` /
``encode_image`` for building a retrieval index).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kemm.errors import KemmError
from kemm.models.backbones import (
    RegionEmbedding,
    backbone_dict,
    load_text_encoder,
    load_vision_encoder,
    patch_grid,
    run_layers,
)
from kemm.models.base import ARCHITECTURES, KemmPreTrainedModel
from kemm.models.configuration import DualEncoderConfig
from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion.base import FusionContext, SequenceLayout
from kemm.models.knowledge import KnowledgeBatch
from kemm.models.outputs import DualEncoderOutput


@ARCHITECTURES.register("dual-encoder", aliases=("clip", "two-tower"))
class DualEncoderModel(KemmPreTrainedModel):
    """Separate text and image towers with projections; see the module docstring.

    Args:
        config: a :class:`DualEncoderConfig`.
        entities: the KG entity table (see :class:`~kemm.models.base.KemmPreTrainedModel`).
    """

    config_class = DualEncoderConfig
    vision: Any  # the Hugging Face ViTModel

    def __init__(self, config: DualEncoderConfig, entities: EntityEmbeddings | None = None) -> None:
        super().__init__(config, entities)
        self.text = load_text_encoder(config.text, pooler=False)
        tc = self.text.config
        self.vision = load_vision_encoder(config.vision)
        vc = self.vision.config
        self.region_embed = RegionEmbedding(
            vc.hidden_size, patch_grid(vc), use_boxes=config.region_box_features
        )
        self.region_type = nn.Embedding(1, vc.hidden_size)  # (1, Dv) added to region tokens
        self.text_proj = nn.Linear(tc.hidden_size, config.projection_dim, bias=False)
        self.image_proj = nn.Linear(vc.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        self.text_fusion = self._fusion(tc.hidden_size, tc.num_hidden_layers, "text" in config.fusion_towers)
        self.vision_fusion = self._fusion(
            vc.hidden_size, vc.num_hidden_layers, "vision" in config.fusion_towers
        )
        self._init_new(self.region_embed, self.region_type, self.text_proj, self.image_proj)

    def backbone_dicts(self) -> dict:
        return {"text": backbone_dict(self.text), "vision": backbone_dict(self.vision)}

    def encode_text(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        knowledge: KnowledgeBatch | None = None,
    ) -> tuple[torch.Tensor, FusionContext]:
        """``(B, L)`` token ids -> text tower output ``(B, L', Dt)`` and its fusion context."""
        b, length = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        knowledge = self.check_knowledge(knowledge, b, input_ids.device)
        hidden = self.text.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, L, Dt)
        ctx = FusionContext(knowledge, self.entities, SequenceLayout(text=slice(0, length)), attention_mask)  # type: ignore[arg-type]
        hidden = self.text_fusion.begin(hidden, ctx)
        return run_layers(self.text.encoder.layer, hidden, self.text_fusion, ctx, self.text.config), ctx

    def encode_image(
        self,
        pixel_values: torch.Tensor,
        boxes: torch.Tensor | None = None,
        region_mask: torch.Tensor | None = None,
        knowledge: KnowledgeBatch | None = None,
    ) -> tuple[torch.Tensor, FusionContext]:
        """``(B, 3, H, W)`` (+ boxes ``(B, R, 4)`` pixels) -> image tower output ``(B, 1 + P + R, Dv)``."""
        b = pixel_values.shape[0]
        knowledge = self.check_knowledge(knowledge, b, pixel_values.device)
        dtype = self.vision.embeddings.patch_embeddings.projection.weight.dtype
        image = self.vision.embeddings(pixel_values.to(dtype))  # (B, 1 + P, Dv)
        ones = torch.ones(b, image.shape[1], dtype=torch.long, device=image.device)
        parts, masks = [image], [ones]
        layout = SequenceLayout(patches=slice(0, image.shape[1]))
        if boxes is not None:
            size = (pixel_values.shape[-2], pixel_values.shape[-1])
            regions = self.region_embed(image[:, 1:], boxes, size) + self.region_type.weight[0]  # (B, R, Dv)
            layout.regions = slice(image.shape[1], image.shape[1] + regions.shape[1])
            parts.append(regions)
            rmask = region_mask if region_mask is not None else ones.new_ones(b, regions.shape[1])
            masks.append(rmask.long())
        hidden = torch.cat(parts, dim=1)  # (B, Lv, Dv)
        ctx = FusionContext(knowledge, self.entities, layout, torch.cat(masks, dim=1))  # type: ignore[arg-type]
        hidden = self.vision_fusion.begin(hidden, ctx)
        hidden = run_layers(self.vision.layers, hidden, self.vision_fusion, ctx, self.vision.config)
        return self.vision.layernorm(hidden), ctx

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        region_mask: torch.Tensor | None = None,
        knowledge: KnowledgeBatch | None = None,
    ) -> DualEncoderOutput:
        """Encode texts and/or images; with both, the contrastive logits ``(B, B)``.

        Shapes:
            input_ids, attention_mask, token_type_ids: (B, L); pixel_values: (B, 3, H, W)
            boxes: (B, R, 4) ``(x0, y0, x1, y1)`` pixels; region_mask: (B, R)
        """
        if input_ids is None and pixel_values is None:
            raise KemmError("the dual encoder needs input_ids, pixel_values or both")
        out: dict = {"extras": {}}
        if input_ids is not None:
            text, tctx = self.encode_text(input_ids, attention_mask, token_type_ids, knowledge)
            out.update(text_hidden=text, text_mask=tctx.attention_mask, text_pooled=text[:, 0])
            out["text_embeds"] = F.normalize(self.text_proj(text[:, 0]), dim=-1)  # (B, E)
            out["extras"].update(tctx.extras)
        if pixel_values is not None:
            vision, vctx = self.encode_image(pixel_values, boxes, region_mask, knowledge)
            out.update(vision_hidden=vision, vision_mask=vctx.attention_mask, image_pooled=vision[:, 0])
            out["image_embeds"] = F.normalize(self.image_proj(vision[:, 0]), dim=-1)  # (B, E)
            if vctx.layout.regions is not None:
                out["region_hidden"] = vision[:, vctx.layout.regions]
            out["extras"].update({f"vision_{k}": v for k, v in vctx.extras.items()})
        if "text_embeds" in out and "image_embeds" in out:
            logits = self.logit_scale.exp() * out["text_embeds"] @ out["image_embeds"].t()  # (B, B)
            out.update(logits_per_text=logits, logits_per_image=logits.t())
        return DualEncoderOutput(**out)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.text.embeddings.word_embeddings
