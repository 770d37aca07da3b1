"""The interface every knowledge-graph embedding model implements.

Fusion models, linking and QA read entity and relation vectors from a trained ``KGEModel``
through :meth:`KGEModel.entity_embeddings` / :meth:`KGEModel.relation_embeddings`; training and
evaluation only use the three scoring methods. Higher scores mean more plausible triples.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.registry import Registry
from kemm.utils.io import atomic_write

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "model.json"


class KGEModel(nn.Module):
    """Base class of the TransE family and of the GNN encoder + decoder models.

    Subclasses set ``config_class`` (a dataclass whose fields are the model's options) and
    implement ``score_hrt``, ``score_t`` and ``score_h``. ``score_t``/``score_h`` score against
    *all* entities (1-vs-all), batched and vectorised.

    Shapes:
        h, r, t: ``(B,)`` int64 ids.
        score_hrt -> ``(B,)``; score_t / score_h -> ``(B, num_entities)``.
    """

    config_class: ClassVar[type]
    #: registered name in :data:`KGE_MODELS`, set on registration
    registered_name: ClassVar[str] = ""
    #: embeddings hold complex numbers as ``[real | imaginary]`` halves (N3 uses the modulus)
    is_complex: ClassVar[bool] = False

    def __init__(self, num_entities: int, num_relations: int, config: Any = None) -> None:
        super().__init__()
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.config = config if config is not None else self.config_class()

    # -- scoring --------------------------------------------------------------------------
    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def regularization_terms(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        """The embedding rows a batch used, for L2/N3 regularisation (each ``(B, dim)``)."""
        return []

    # -- export ---------------------------------------------------------------------------
    def entity_embeddings(self) -> torch.Tensor:
        """``(num_entities, dim)`` float vectors (real view; complex models concatenate re/im)."""
        raise NotImplementedError

    def relation_embeddings(self) -> torch.Tensor:
        """``(num_relations, dim_r)`` float vectors."""
        raise NotImplementedError

    def post_step(self) -> None:
        """Hook run after each optimiser step (projections, cache invalidation)."""

    # -- persistence ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What :func:`load_model` needs to rebuild this model before loading its weights."""
        return {
            "model": self.registered_name,
            "num_entities": self.num_entities,
            "num_relations": self.num_relations,
            "config": dataclasses.asdict(self.config),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``model.json`` into ``directory`` (each atomically)."""
        from safetensors.torch import save

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_write(directory / WEIGHTS_NAME, mode="wb") as f:
            f.write(save(state))
        with atomic_write(directory / CONFIG_NAME) as f:
            json.dump(self.describe(), f, indent=2)
            f.write("\n")
        return directory

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load a state dict (subclasses with graph buffers set the graph first)."""
        self.load_state_dict(state)


#: the KGE model registry (TransE family and GNN encoders); ``model: <name>`` in a KGE config
KGE_MODELS: Registry[type[KGEModel]] = Registry("KGE model")


def register_model(name: str, aliases: tuple[str, ...] = ()):
    """Class decorator: register a :class:`KGEModel` subclass under ``name`` in :data:`KGE_MODELS`."""
    return KGE_MODELS.register(name, aliases=aliases)


def build_model(
    name: str,
    num_entities: int,
    num_relations: int,
    graph: Any = None,
    source: str | Path | None = None,
    **kwargs: Any,
) -> KGEModel:
    """Build a registered model from keyword options (the fields of its ``config_class``).

    Options are checked (names and types) against the config class; an unknown one is named with
    the nearest valid option and ``source``, the file it came from.

    Args:
        graph: ``(edge_index (2, E), edge_type (E,))`` of the training graph, needed by GNN encoders.
    """
    import kemm.embeddings  # noqa: F401 - registers the built-in models

    cls = KGE_MODELS.get(name)
    sizes: dict[str, Any] = {"num_entities": num_entities, "num_relations": num_relations}
    if getattr(cls, "needs_graph", False):
        if graph is None:
            raise KemmError(f"model {name!r} is a GNN encoder and needs the training graph")
        sizes["graph"] = graph
    return KGE_MODELS.build(cls, source=source, reserved=tuple(sizes), **kwargs, **sizes)


def load_model(directory: str | Path, map_location: str = "cpu") -> KGEModel:
    """Rebuild a model saved with :meth:`KGEModel.save`."""
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path = directory / CONFIG_NAME
    if not cfg_path.exists() or not (directory / WEIGHTS_NAME).exists():
        raise KemmError(f"{directory}: no saved model ({CONFIG_NAME} and {WEIGHTS_NAME} expected)")
    desc = json.loads(cfg_path.read_text(encoding="utf-8"))
    state = load_file(str(directory / WEIGHTS_NAME), device=map_location)
    graph = None
    if "edge_index" in state:
        graph = (state["edge_index"], state["edge_type"])
    model = build_model(
        desc["model"], desc["num_entities"], desc["num_relations"], graph=graph, **desc["config"]
    )
    model.load_weights(state)
    return model.to(map_location)
