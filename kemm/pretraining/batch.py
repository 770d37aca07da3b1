"""The batch of a pre-training step: model inputs, what the objectives predict, and the corrupted view.

A :class:`PretrainBatch` comes out of :func:`kemm.pretraining.data.collate` on the CPU. The
objectives' :meth:`~kemm.pretraining.objectives.base.Objective.corrupt` hooks then write the
corrupted view (masked tokens, masked regions, corrupted entities, held-out edges) with the
engine's generator, still on the CPU, so that a resumed run draws the same masks; both views then
move to the device.

Shapes (``B`` examples, ``L`` text tokens, ``R`` object regions, ``M`` mentions):
    input_ids, attention_mask:  (B, L)
    pixel_values:               (B, 3, H, W)
    boxes:                      (B, R, 4) ``(x0, y0, x1, y1)`` in pixels of the model input; None: no regions
    region_mask:                (B, R) True for a real region
    region_entity:              (B, R) KG entity of each region's object (-1: unknown or padding)
    image_ids:                  (B,) one integer per distinct image (captions of one image share it)
    knowledge:                  the linked mentions and retrieved subgraphs (:class:`KnowledgeBatch`)
    targets:                    what a corrupting objective left for its loss, by name (``mlm_labels``
                                (B, L) with -100 off the masked positions, ...)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from kemm.models.knowledge import KnowledgeBatch


@dataclass
class PretrainBatch:
    """One batch of image-text pairs with their knowledge; see the module docstring for shapes."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pixel_values: torch.Tensor
    image_ids: torch.Tensor
    knowledge: KnowledgeBatch
    boxes: torch.Tensor | None = None
    region_mask: torch.Tensor | None = None
    region_entity: torch.Tensor | None = None
    targets: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    def replace(self, **changes: Any) -> PretrainBatch:
        """A shallow copy with ``changes`` (``targets`` copied, so a corrupted view never writes into the clean one)."""
        changes.setdefault("targets", dict(self.targets))
        return dataclasses.replace(self, **changes)

    def to(self, device: torch.device | str) -> PretrainBatch:
        def move(v: Any) -> Any:
            if isinstance(v, (torch.Tensor, KnowledgeBatch)):
                return v.to(device)
            if isinstance(v, dict):
                return {k: move(x) for k, x in v.items()}
            return v

        return PretrainBatch(**{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def model_inputs(self) -> dict[str, Any]:
        """Keyword arguments of the architectures' ``forward``."""
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "pixel_values": self.pixel_values,
            "boxes": self.boxes,
            "region_mask": self.region_mask,
            "knowledge": self.knowledge,
        }
