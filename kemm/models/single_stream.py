"""Single-stream vision-language transformer (ViLT / VisualBERT / Oscar style).

Text tokens, image patches, object regions and knowledge tokens share one transformer, the text
encoder's own layers (weights and all). The text goes through the encoder's embeddings exactly as
in ``BertModel``; the image is cut into patches by a ViT's patch embeddings (optionally run through
the ViT's layers first); each object region is the mean of the patches inside its box plus a box
embedding (:class:`~kemm.models.backbones.RegionEmbedding`); knowledge tokens are what a fusion
module appends in ``begin``. Image patches and regions get a modality type embedding (the text keeps
BERT's token types, knowledge tokens the fusion module's own type embedding), so with no image and no knowledge the model computes exactly what ``BertModel`` does.

Joint sequence, along ``T``::

    [CLS] text ... [SEP] | [IMG] patch_1 ... patch_P | region_1 ... region_R | knowledge_1 ... knowledge_K
      layout.text          layout.patches               layout.regions         layout.knowledge
"""

from __future__ import annotations

from typing import Any

import torch
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
from kemm.models.configuration import SingleStreamConfig
from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion.base import FusionContext, SequenceLayout
from kemm.models.knowledge import KnowledgeBatch
from kemm.models.outputs import SingleStreamOutput

#: rows of the modality type embedding (text keeps BERT's token types; knowledge tokens get the
#: fusion module's own type embedding)
PATCH, REGION = 0, 1


def _slice(x: torch.Tensor, s: slice | None) -> torch.Tensor | None:
    return x[:, s] if s is not None else None


@ARCHITECTURES.register("single-stream", aliases=("vilt", "visualbert"))
class SingleStreamModel(KemmPreTrainedModel):
    """One transformer over text, patches, regions and knowledge; see the module docstring.

    Args:
        config: a :class:`SingleStreamConfig`.
        entities: the KG entity table (see :class:`~kemm.models.base.KemmPreTrainedModel`).
    """

    config_class = SingleStreamConfig
    vision_layers: Any
    vision_norm: Any

    def __init__(self, config: SingleStreamConfig, entities: EntityEmbeddings | None = None) -> None:
        super().__init__(config, entities)
        self.text = load_text_encoder(config.text)
        hidden = self.text.config.hidden_size
        vit = load_vision_encoder(config.vision)
        self.vision_config = vit.config
        self.patch_embeddings = vit.embeddings
        self.vision_layers = vit.layers if config.vision_encoder else None
        self.vision_norm = vit.layernorm if config.vision_encoder else None
        self.grid = patch_grid(vit.config)
        self.vision_proj = (
            nn.Linear(vit.config.hidden_size, hidden) if vit.config.hidden_size != hidden else nn.Identity()
        )
        self.modality = nn.Embedding(2, hidden)  # (2, D): patches, regions
        # BERT's layers are post-LN: image tokens enter normalised, as its own embeddings do (VisualBERT)
        self.image_norm = nn.LayerNorm(hidden, eps=self.text.config.layer_norm_eps)
        self.regions = RegionEmbedding(hidden, self.grid, use_boxes=config.region_box_features)
        self.fusion = self._fusion(hidden, self.text.config.num_hidden_layers)
        self._init_new(self.vision_proj, self.modality, self.image_norm, self.regions)

    def backbone_dicts(self) -> dict:
        return {"text": backbone_dict(self.text), "vision": self.vision_config.to_dict()}

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, 1 + P, D)``: image [CLS] and patch tokens in the text width."""
        dtype = self.patch_embeddings.patch_embeddings.projection.weight.dtype
        x = self.patch_embeddings(pixel_values.to(dtype))  # (B, 1 + P, Dv)
        if self.vision_layers is not None and self.vision_norm is not None:
            for layer in self.vision_layers:
                x = layer(x, None)
            x = self.vision_norm(x)
        return self.vision_proj(x)  # (B, 1 + P, D)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        region_mask: torch.Tensor | None = None,
        knowledge: KnowledgeBatch | None = None,
    ) -> SingleStreamOutput:
        """Encode one batch.

        Shapes:
            input_ids, attention_mask, token_type_ids: (B, L)
            pixel_values: (B, 3, H, W); boxes: (B, R, 4) ``(x0, y0, x1, y1)`` pixels; region_mask: (B, R)
            knowledge: the batch's linked mentions and subgraphs (None: empty)
        """
        b, length = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        text = self.text.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, L, D)
        parts, masks = [text], [attention_mask]
        layout = SequenceLayout(text=slice(0, length))
        if boxes is not None and pixel_values is None:
            raise KemmError("object regions (boxes) need the image (pixel_values)")
        if pixel_values is not None:
            image = self.encode_image(pixel_values)  # (B, 1 + P, D)
            layout.patches = slice(length, length + image.shape[1])
            parts.append(self.image_norm(image + self.modality.weight[PATCH]))
            masks.append(attention_mask.new_ones(b, image.shape[1]))
            if boxes is not None:
                size = (pixel_values.shape[-2], pixel_values.shape[-1])
                regions = self.regions(image[:, 1:], boxes, size)  # (B, R, D)
                start = layout.patches.stop
                layout.regions = slice(start, start + regions.shape[1])
                parts.append(regions + self.modality.weight[REGION])
                if region_mask is None:
                    region_mask = attention_mask.new_ones(b, regions.shape[1])
                masks.append(region_mask.to(attention_mask.dtype))
        hidden = torch.cat(parts, dim=1)  # (B, T, D)
        knowledge = self.check_knowledge(knowledge, b, hidden.device)
        ctx = FusionContext(knowledge, self.entities, layout, torch.cat(masks, dim=1))  # type: ignore[arg-type]
        hidden = self.fusion.begin(hidden, ctx)
        hidden = run_layers(self.text.encoder.layer, hidden, self.fusion, ctx, self.text.config)
        pooler = getattr(self.text, "pooler", None)
        pooled = pooler(hidden) if pooler is not None else hidden[:, 0]  # (B, D)
        lay = ctx.layout
        return SingleStreamOutput(
            last_hidden_state=hidden,
            pooler_output=pooled,
            text_hidden=_slice(hidden, lay.text),
            image_hidden=_slice(hidden, lay.patches),
            region_hidden=_slice(hidden, lay.regions),
            knowledge_hidden=_slice(hidden, lay.knowledge),
            attention_mask=ctx.attention_mask,
            layout=lay,
            extras=ctx.extras,
        )

    def get_input_embeddings(self) -> nn.Embedding:
        """The word embeddings (what the MLM head ties to)."""
        return self.text.embeddings.word_embeddings
