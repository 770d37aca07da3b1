"""What every architecture shares: the registry, the KG entity table, input checks, save / load.

``save_pretrained(dir)`` writes ``config.json`` (the config with its ``model_type``, backbones stored
as resolved config dicts) and ``model.safetensors`` (tied weights stored once), each atomically;
``from_pretrained(dir)`` rebuilds the model from ``config.json`` alone (no hub access) and loads the
weights. Loading a checkpoint of another architecture, entity ids outside the entity table, and an
entity table trained on another KG are each one clear :class:`~kemm.errors.KemmError`.

>>> model = build_model("single-stream", text={...}, vision=TINY_VIT)      # doctest: +SKIP
>>> model.save_pretrained("runs/m"); load_model("runs/m")                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from kemm.config import from_dict, to_dict
from kemm.errors import KemmError
from kemm.models.configuration import VLConfig
from kemm.models.entities import EntityEmbeddings
from kemm.models.fusion.base import FusionModule, NoFusion, build_fusion
from kemm.models.knowledge import KnowledgeBatch
from kemm.registry import Registry, normalize_name
from kemm.utils.io import sort_safetensors_header

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class KemmPreTrainedModel(nn.Module):
    """Base class of the architectures: subclasses set ``config_class`` and register in
    :data:`ARCHITECTURES` under ``config_class.model_type``.

    Args:
        config: the architecture's config.
        entities: the KG entity table (a :class:`kemm.models.entities.EntityEmbeddings`: ``forward(ids)``
            ``(...,) -> (..., entity_dim)``, attributes ``entity_dim`` and ``num_entities``). None:
            built from ``config.num_entities`` / ``entity_dim`` (weights come from ``from_pretrained``),
            or no KG at all when ``config.num_entities`` is 0.
    """

    config_class: ClassVar[type[VLConfig]] = VLConfig
    registered_name: ClassVar[str] = ""
    config: Any  # the architecture's config class
    entities: EntityEmbeddings | None
    text: Any  # the Hugging Face text encoder (BertModel, ...)

    def __init__(self, config: VLConfig, entities: EntityEmbeddings | None = None) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise KemmError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.entities = _entity_table(config, entities)
        if self.entities is not None:
            table = to_dict(self.entities.config)
            config = dataclasses.replace(
                config,
                num_entities=table["num_entities"],
                entity_dim=table["entity_dim"],
                num_relations=config.num_relations or table.get("num_relations", 0),
                entity_table=table,
            )
        if normalize_name(config.fusion) not in ("none", "baseline") and self.entities is None:
            raise KemmError(
                f"fusion {config.fusion!r} needs a KG entity table: pass entities= or set num_entities"
            )
        self.config = config

    def _fusion(self, hidden_size: int, num_layers: int, enabled: bool = True) -> FusionModule:
        """The config's fusion module for one stream, or ``none`` for a stream that fuses nothing."""
        if not enabled:
            return NoFusion(
                hidden_size=hidden_size, entity_dim=max(self.config.entity_dim, 1), num_layers=num_layers
            )
        return build_fusion(
            self.config.fusion,
            self.config.fusion_options,
            hidden_size=hidden_size,
            entity_dim=max(self.config.entity_dim, 1),
            num_layers=num_layers,
            num_relations=self.config.num_relations,
        )

    def _init_new(self, *modules: nn.Module) -> None:
        """BERT's initialisation (normal, std 0.02) for the modules kemm adds around the backbones."""
        for root in modules:
            for m in root.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                    if isinstance(m, nn.Linear) and m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def check_knowledge(
        self, knowledge: KnowledgeBatch | None, batch_size: int, device: torch.device
    ) -> KnowledgeBatch:
        """``knowledge`` checked against the batch and the entity table (None: empty knowledge)."""
        if knowledge is None:
            return KnowledgeBatch.empty(batch_size, device=device)
        if knowledge.batch_size != batch_size:
            raise KemmError(f"knowledge is for {knowledge.batch_size} examples, the batch has {batch_size}")
        if self.entities is None:  # no KG: only ``fusion: none``, which ignores the knowledge
            return knowledge
        n = self.config.num_entities
        ids = [knowledge.entity_ids[knowledge.mention_mask], knowledge.candidate_ids.flatten()]
        graph = knowledge.graph
        if graph is not None:
            ids.append(graph.node_entity)  # type: ignore[attr-defined]
        for t in ids:
            if t.numel() and (int(t.max()) >= n or int(t.min()) < -1):
                bad = int(t.max()) if int(t.max()) >= n else int(t.min())
                raise KemmError(
                    f"entity id {bad} is outside the KGE table ({n} entities; -1 = none): "
                    "was the knowledge linked against another KG?"
                )
        return knowledge

    # ---- save / load -------------------------------------------------------------------------

    def backbone_dicts(self) -> dict[str, Any]:
        """``{"text": ..., "vision": ...}``: resolved backbone configs stored in ``config.json``."""
        return {}

    def resolved_config(self) -> VLConfig:
        """The config with its backbones as config dicts: what ``config.json`` holds."""
        return dataclasses.replace(self.config, **self.backbone_dicts())

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = self.resolved_config()
        payload = {"model_type": self.config_class.model_type, **to_dict(config)}
        tmp = directory / (CONFIG_NAME + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, directory / CONFIG_NAME)
        tmp = directory / (WEIGHTS_NAME + ".tmp")
        save_model(self, str(tmp), metadata={"format": "pt", "model_type": self.config_class.model_type})
        sort_safetensors_header(tmp)  # the same weights give the same bytes in every process
        os.replace(tmp, directory / WEIGHTS_NAME)
        logger.info("saved %s model to %s", self.config_class.model_type, directory)
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, entities: EntityEmbeddings | None = None
    ) -> KemmPreTrainedModel:
        """Load a model saved by :meth:`save_pretrained` (on the base class: whichever architecture it is).

        ``entities``: the entity table to use instead of the saved one (same entities and size);
        its vectors are kept, the saved table's are not loaded over them.
        """
        from safetensors.torch import load_model as load_weights

        directory = Path(directory)
        model_type, fields = read_config(directory)
        if cls is KemmPreTrainedModel:
            cls = ARCHITECTURES.get(model_type)
        elif model_type != cls.config_class.model_type:
            raise KemmError(
                f"{directory} holds a {model_type!r} model, not a {cls.config_class.model_type!r} one "
                f"(load it with {ARCHITECTURES.get(model_type).__name__} or kemm.models.load_model)"
            )
        config = from_dict(cls.config_class, fields, source=directory / CONFIG_NAME)
        model = cls(config, entities=entities)
        # the entity table passed in is the one to use (another KGE run, a fact-removed KG's): the
        # saved file's copy of the table it was trained with must not overwrite it
        given = (
            {k: v.detach().clone() for k, v in entities.state_dict().items()}
            if entities is not None
            else None
        )
        missing, unexpected = load_weights(model, str(directory / WEIGHTS_NAME), strict=False)
        if missing or unexpected:
            raise KemmError(
                f"{directory / WEIGHTS_NAME} does not match the {model_type!r} config: missing "
                f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        if given is not None and model.entities is not None:
            model.entities.load_state_dict(given)
        return model.eval()


def _entity_table(config: VLConfig, entities: EntityEmbeddings | None) -> EntityEmbeddings | None:
    """The model's entity table: ``entities`` checked against ``config``, or one built from it."""
    from kemm.models.entities import EntityEmbeddingsConfig

    saved = config.entity_table
    if entities is None:
        if not (saved or config.num_entities):
            return None
        fields = saved or {"num_entities": config.num_entities, "entity_dim": config.entity_dim}
        return EntityEmbeddings(from_dict(EntityEmbeddingsConfig, fields, what="entity_table"))
    n, d = int(entities.num_entities), int(entities.entity_dim)
    want = (saved.get("num_entities", config.num_entities), saved.get("entity_dim", config.entity_dim))
    if want[0] and (n, d) != want:
        raise KemmError(
            f"the entity table has {n} x {d} vectors, the model was built for {want[0]} x {want[1]}"
        )
    theirs = getattr(getattr(entities, "config", None), "fingerprint", "")
    ours = saved.get("fingerprint", "")
    if ours and theirs != ours:
        raise KemmError(
            f"mismatched vocabulary: the model's entity ids refer to the KG with fingerprint {ours[:12]}, "
            f"the entity table was trained on {str(theirs)[:12] or 'an unknown KG'} (a KGE run of another KG?)"
        )
    return entities


def read_config(directory: Path) -> tuple[str, dict[str, Any]]:
    """``(model_type, config fields)`` of a saved model directory."""
    path = directory / CONFIG_NAME
    if not path.is_file() or not (directory / WEIGHTS_NAME).is_file():
        raise KemmError(f"{directory}: not a saved kemm model (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    fields = json.loads(path.read_text(encoding="utf-8"))
    model_type = fields.pop("model_type", None)
    if model_type not in ARCHITECTURES:
        raise KemmError(
            f"{path}: model_type {model_type!r} is not a kemm architecture ({', '.join(ARCHITECTURES.names())})"
        )
    return model_type, fields


#: the architecture registry: ``single-stream``, ``dual-stream``, ``dual-encoder``
ARCHITECTURES: Registry[type[KemmPreTrainedModel]] = Registry("architecture", base=KemmPreTrainedModel)


def build_model(name: str, entities: EntityEmbeddings | None = None, **options: Any) -> KemmPreTrainedModel:
    """Build a registered architecture from its config's fields: ``build_model("dual-stream", fusion="ernie")``."""
    import kemm.models  # noqa: F401 - registers the architectures

    cls = ARCHITECTURES.get(name)
    return cls(
        from_dict(cls.config_class, options, what=f"architecture {cls.registered_name!r}"), entities=entities
    )


def load_model(directory: str | Path, entities: EntityEmbeddings | None = None) -> KemmPreTrainedModel:
    """Load any saved kemm model; the architecture comes from ``config.json``'s ``model_type``."""
    import kemm.models  # noqa: F401

    return KemmPreTrainedModel.from_pretrained(directory, entities=entities)
