"""The interface of a pre-training objective, the objective registry, and the step context.

An objective is a module: it owns its heads (projections, classifiers, the contrastive
temperature), mines what it needs (hard negatives) beside its loss, and returns its loss and logs.
A pre-training step (:class:`kemm.pretraining.task.PretrainTask`) does three things:

1. ``corrupted = obj.corrupt(corrupted, generator)`` for each objective in turn, on the CPU with
   the engine's generator: MLM masks tokens, masked-object classification blanks regions, entity
   denoising corrupts entities, link prediction holds edges out. The objectives that read the
   corrupted view share one forward pass over it.
2. ``out = obj(ctx)`` for each objective, where ``ctx`` (:class:`StepContext`) runs and caches the
   forward passes: :meth:`StepContext.clean` (the real pairs), :meth:`StepContext.corrupted`,
   :meth:`StepContext.text_features` / :meth:`StepContext.image_features` (unimodal [CLS] states for
   the contrastive loss); an objective may run the model itself (ITM's negative pairs).
3. ``loss = sum(weight * out.loss)``; every objective's loss is logged as ``loss/<name>``.

>>> @OBJECTIVES.register("my-loss")
... class MyLoss(Objective):
...     config_class = ObjectiveConfig
...     def forward(self, ctx):
...         return ObjectiveOutput(ctx.clean().last_hidden_state.pow(2).mean())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from kemm.pretraining.batch import PretrainBatch
from kemm.registry import Registry


@dataclass
class ObjectiveConfig:
    """Options every objective has.

    Attributes:
        weight: the objective's weight in the multi-task loss (default 1.0).
        enabled: False switches the objective off (it is not built: no heads, no loss).
    """

    weight: float = 1.0
    enabled: bool = True


@dataclass
class HostSizes:
    """What an objective needs to know about the model and data to build its heads.

    Attributes:
        hidden_size: ``D`` of the joint (or text) stream.
        vocab_size: text vocabulary (MLM).
        num_entities, entity_dim: the KG entity table (0 when the model has none).
        num_relations: KG relations (link prediction).
        tokenizer: the text tokenizer (MLM masking reads its special and [MASK] tokens).
        word_embeddings: the text encoder's word embeddings (``model.get_input_embeddings()``), which
            the MLM head's decoder is tied to.
    """

    hidden_size: int
    vocab_size: int = 0
    num_entities: int = 0
    entity_dim: int = 0
    num_relations: int = 0
    tokenizer: Any = None
    word_embeddings: Any = None


@dataclass
class ObjectiveOutput:
    """What an objective returns.

    Attributes:
        loss: scalar to minimise (0 when the batch had nothing for the objective; still connected
            to the graph so that DDP sees every parameter).
        logs: floats averaged over the epoch (``"acc/itm"``); the task adds ``loss/<name>``.
    """

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


class Objective(nn.Module):
    """Base class: subclasses set ``config_class`` and implement :meth:`forward` (and :meth:`corrupt`
    when they train on a corrupted view).

    Args:
        config: an instance of ``config_class``.
        host: sizes of the model and data (:class:`HostSizes`).
    """

    config_class: ClassVar[type] = ObjectiveConfig
    registered_name: ClassVar[str] = ""

    def __init__(self, config: Any = None, *, host: HostSizes) -> None:
        super().__init__()
        self.config = config if config is not None else self.config_class()
        self.host = host

    @property
    def weight(self) -> float:
        return float(self.config.weight)

    def corrupt(self, batch: PretrainBatch, generator: torch.Generator) -> PretrainBatch:
        """The corrupted view after this objective's corruption (CPU tensors; default: unchanged)."""
        return batch

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        raise NotImplementedError


#: the objective registry: ``objectives: {<name>: {weight: ..., ...}}`` in a pre-training config
OBJECTIVES: Registry[type[Objective]] = Registry("objective", base=Objective)


def build_objective(
    name: str, options: dict[str, Any] | None, host: HostSizes, source: Any = None
) -> Objective:
    """``OBJECTIVES.build`` with the host sizes; unknown options are named with the nearest key."""
    import kemm.pretraining.objectives  # noqa: F401 - registers the built-in objectives

    return OBJECTIVES.build(name, source=source, reserved=("host",), host=host, **(options or {}))


def zero_loss(module: nn.Module, like: torch.Tensor) -> torch.Tensor:
    """A zero that depends on ``module``'s parameters (a batch without targets still gives every
    parameter a gradient, as DistributedDataParallel requires)."""
    total = like.new_zeros(())
    for p in module.parameters():
        if p.requires_grad:
            total = total + p.sum() * 0.0
    return total


def pool(hidden: torch.Tensor, mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """``(B, T, D) -> (B, D)``: position 0 (``"cls"``) or the mean over the positions ``mask`` keeps
    (``"mean"``; all positions when ``mask`` is None)."""
    if pooling == "cls":
        return hidden[:, 0]
    if mask is None:
        return hidden.mean(1)
    m = mask[..., None].to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


class StepContext:
    """The forward passes of one step, each run at most once and shared by the objectives.

    Args:
        model: the vision-language model (a :class:`kemm.models.base.KemmPreTrainedModel`).
        batch: the clean view (on the device).
        corrupted: the corrupted view (on the device).
        generator: the engine's generator (CPU), for sampling inside a loss (ITM's negatives).

    Attributes:
        cache: what one objective leaves for another (``cache["itc"]["sim_t2i"]`` (B, B): the
            contrastive similarities ITM samples its hard negatives from).
    """

    def __init__(
        self, model: nn.Module, batch: PretrainBatch, corrupted: PretrainBatch, generator: torch.Generator
    ) -> None:
        self.model: Any = model
        self.batch = batch
        self.corrupted_batch = corrupted
        self.generator = generator
        self.cache: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}

    def _once(self, key: str, fn: Any) -> Any:
        if key not in self._outputs:
            self._outputs[key] = fn()
        return self._outputs[key]

    def outputs(self) -> list[Any]:
        """The model outputs of the passes run so far (ITM's negatives excluded)."""
        return [v for v in self._outputs.values() if not isinstance(v, torch.Tensor)]

    def clean(self) -> Any:
        """The model's output on the real image-text pairs."""
        return self._once("clean", lambda: self.model(**self.batch.model_inputs()))

    def corrupted(self) -> Any:
        """The model's output on the corrupted view (MLM, masked objects, entity denoising)."""
        return self._once("corrupted", lambda: self.model(**self.corrupted_batch.model_inputs()))

    def text_states(self) -> Any:
        """The model's output on the text alone (with its text knowledge)."""
        b = self.batch
        return self._once(
            "text",
            lambda: self.model(input_ids=b.input_ids, attention_mask=b.attention_mask, knowledge=b.knowledge),
        )

    def image_states(self) -> torch.Tensor:
        """``(B, 1 + P, D)``: the vision encoder's image [CLS] and patch states, alone."""
        return self._once("image", lambda: self.model.encode_image(self.batch.pixel_values))

    def text_features(self, pooling: str = "cls") -> torch.Tensor:
        """``(B, D)``: the text alone, pooled: its [CLS] state, or (``"mean"``) the mean over its tokens."""
        out = self.text_states()
        return pool(out.last_hidden_state, out.attention_mask, pooling)

    def image_knowledge_states(self) -> Any:
        """The model's output on the image alone with its object regions and the entities they are
        linked to (the region mentions of the knowledge), through the joint stack; the text is its
        [CLS] token only."""
        from kemm.models.knowledge import REGION

        b = self.batch
        return self._once(
            "image+knowledge",
            lambda: self.model(
                input_ids=b.input_ids[:, :1],
                attention_mask=b.attention_mask[:, :1],
                pixel_values=b.pixel_values,
                boxes=b.boxes,
                region_mask=b.region_mask,
                knowledge=b.knowledge.only(REGION),
            ),
        )

    def image_features(self, pooling: str = "cls", knowledge: bool = False) -> torch.Tensor:
        """``(B, D)``: the image alone, pooled: its [CLS] state, or (``"mean"``) the mean over its
        patches. ``knowledge``: the image with its regions and their entities
        (:meth:`image_knowledge_states`), pooled over the whole joint sequence."""
        if knowledge:
            out = self.image_knowledge_states()
            return pool(out.last_hidden_state, out.attention_mask, pooling)
        return pool(self.image_states(), None, pooling)
