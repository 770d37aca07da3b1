"""The interface every knowledge fusion module implements, and the fusion registry.

An architecture runs its transformer stack layer by layer. Before the first layer it calls
:meth:`FusionModule.begin` (a module may extend the sequence here: ``tokens`` appends entity
tokens), and after layer ``i`` it calls :meth:`FusionModule.after_layer` with the hidden states
of the stream being fused. A module changes the hidden states at the layers it is configured for
and returns them unchanged elsewhere. ``fusion: none`` is a module too, so the baseline runs the
same code path.

Shapes:
    hidden: (B, T, D) hidden states of one stream; ``ctx.attention_mask`` (B, T), 1 = attend.
    ``ctx.layout`` says where text tokens, image patches, object regions and knowledge tokens
    sit along T; a text mention's tokens are at ``layout.text.start + mention_start`` ...
    ``layout.text.start + mention_end``, an object region at ``layout.regions.start + region``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.models.knowledge import REGION, TEXT, KnowledgeBatch
from kemm.registry import Registry, check_kwargs


@dataclass
class SequenceLayout:
    """Positions of each modality along the sequence of one stream (``None``: absent)."""

    text: slice | None = None
    patches: slice | None = None
    regions: slice | None = None
    knowledge: slice | None = None

    @property
    def length(self) -> int:
        return max([s.stop for s in (self.text, self.patches, self.regions, self.knowledge) if s] + [0])


@dataclass
class FusionContext:
    """What a fusion module sees besides the hidden states.

    Attributes:
        knowledge: the batch's linked mentions, candidates and subgraphs.
        entities: maps entity ids (any shape, -1 = none) to vectors ``(..., entity_dim)``
            (a :class:`kemm.models.entities.EntityEmbeddings`: KGE vectors, frozen or fine-tuned).
        layout: where each modality sits in the stream's sequence.
        attention_mask: ``(B, T)`` of the stream; a module that extends the sequence updates it
            (and ``layout``) in :meth:`FusionModule.begin`.
        extras: outputs a fusion module leaves for heads and losses, e.g. ``"graph_pooled"``
            ``(B, D)`` (``gnn``) or ``"linking_scores"`` ``(B, M, C+1)`` (``knowbert``).
        state: scratch space a module carries from :meth:`FusionModule.begin` to its later
            layers within one forward pass (ERNIE's entity stream, the GNN's node states), keyed
            by module name; not an output.
    """

    knowledge: KnowledgeBatch
    entities: nn.Module
    layout: SequenceLayout
    attention_mask: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class FusionConfig:
    """Options every fusion module shares.

    Attributes:
        layers: host layers (0-based) after which knowledge is fused; empty = the module's default.
        dropout: dropout on the fused knowledge.
    """

    layers: list[int] = field(default_factory=list)
    dropout: float = 0.1


class FusionModule(nn.Module):
    """Base class: subclasses set ``config_class`` and override :meth:`begin` / :meth:`after_layer`.

    Args:
        config: an instance of ``config_class``.
        hidden_size: ``D`` of the host stream; ``entity_dim``: size of ``ctx.entities`` vectors;
        num_layers: layers of the host stream (for default fusion layers and checks);
        num_relations: KG relations (for graph modules).
    """

    config_class: ClassVar[type] = FusionConfig
    #: set by the registry decorator
    registered_name: ClassVar[str] = ""
    #: the module reads ``ctx.knowledge.graph`` (a tester builds subgraphs for it)
    needs_graph: ClassVar[bool] = False
    #: :meth:`begin` may lengthen the sequence (``ctx.layout.knowledge``, ``ctx.attention_mask``)
    extends_sequence: ClassVar[bool] = False

    def __init__(
        self,
        config: Any = None,
        *,
        hidden_size: int,
        entity_dim: int,
        num_layers: int,
        num_relations: int = 0,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else self.config_class()
        self.hidden_size = hidden_size
        self.entity_dim = entity_dim
        self.num_layers = num_layers
        self.num_relations = num_relations

    def fusion_layers(self, default: list[int]) -> list[int]:
        """``config.layers`` (or ``default`` when empty), checked against ``num_layers``; negative
        indices count from the top (``-1``: the last layer)."""
        layers = list(self.config.layers) or list(default)
        out = []
        for i in layers:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise KemmError(
                    f"fusion {self.registered_name or type(self).__name__!r}: layer {i} is outside "
                    f"the host's {self.num_layers} layers"
                )
            out.append(j)
        return sorted(set(out))

    def begin(self, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        """Before the first layer; ``(B, T, D) -> (B, T', D)`` (updating ``ctx`` when T changes)."""
        return hidden

    def after_layer(self, index: int, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        """After host layer ``index``: ``(B, T, D) -> (B, T, D)``."""
        return hidden


#: the fusion registry: ``fusion: <name>`` in a model config
FUSION: Registry[type[FusionModule]] = Registry("fusion module", base=FusionModule)

#: keyword arguments an architecture passes itself when it builds a fusion module
HOST_KWARGS = ("hidden_size", "entity_dim", "num_layers", "num_relations")


def check_fusion_options(fusion: str, options: dict[str, Any], source: str | Path | None = None) -> None:
    """Raise a one-line error naming the first key of ``options`` the fusion module ``fusion``
    does not take (with the nearest valid one), before anything is built."""
    import kemm.models.fusion  # noqa: F401 - registers the built-in modules

    target = FUSION.get(fusion)
    config_class = getattr(target, "config_class", None)
    check_kwargs(
        config_class if isinstance(config_class, type) else target,
        options,
        what=f"fusion module {fusion!r}",
        source=source,
        reserved=HOST_KWARGS,
    )


def build_fusion(spec: str | type | FusionModule, options: dict | None = None, **host: Any) -> FusionModule:
    """``FUSION.build`` with the host's sizes: ``build_fusion("ernie", {"layers": [1]}, hidden_size=32, ...)``."""
    import kemm.models.fusion  # noqa: F401 - registers the built-in modules

    return FUSION.build(spec, reserved=HOST_KWARGS, **(options or {}), **host)


@FUSION.register("none", aliases=("baseline",))
class NoFusion(FusionModule):
    """The baseline: knowledge is ignored; the model runs exactly the code path of the fused ones."""


def mention_alignment(
    ctx: FusionContext, length: int, need_entity: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which positions of this stream each mention came from.

    A text mention covers ``layout.text.start + mention_start`` ... ``+ mention_end`` (end
    exclusive), an object region the one position ``layout.regions.start + mention_region``. A
    mention whose modality is not in this stream (a region mention in the text stream of a
    dual-stream model), whose span falls outside it, or (with ``need_entity``) that is linked to
    NIL, is not valid and covers nothing.

    Returns:
        ``align`` ``(B, M, T)`` float, 1 where mention m covers position t; ``valid`` ``(B, M)`` bool.
    """
    kb, lay = ctx.knowledge, ctx.layout
    dev = kb.device
    pos = torch.arange(length, device=dev)  # (T,)
    align = torch.zeros(kb.batch_size, kb.num_mentions, length, device=dev)  # (B, M, T)
    if lay.text is not None:
        lo = lay.text.start + kb.mention_start  # (B, M)
        hi = lay.text.start + kb.mention_end
        ok = (kb.mention_source == TEXT) & (kb.mention_start >= 0) & (hi <= lay.text.stop) & (hi > lo)
        cover = (pos >= lo[..., None]) & (pos < hi[..., None]) & ok[..., None]  # (B, M, T)
        align = align + cover.float()
    if lay.regions is not None:
        at = lay.regions.start + kb.mention_region  # (B, M)
        ok = (kb.mention_source == REGION) & (kb.mention_region >= 0) & (at < lay.regions.stop)
        align = align + ((pos == at[..., None]) & ok[..., None]).float()
    valid = kb.mention_mask
    if need_entity:
        valid = valid & (kb.entity_ids >= 0)
    align = align * valid[..., None]
    return align, valid & (align.sum(-1) > 0)


def safe_key_padding(valid: torch.Tensor) -> torch.Tensor:
    """A ``key_padding_mask`` (True = ignore) from ``valid`` ``(B, M)`` that never masks a whole row
    (a row without any valid key would give NaN); outputs of such rows must be discarded."""
    pad = ~valid
    empty = pad.all(-1)  # (B,)
    pad[:, 0] = pad[:, 0] & ~empty
    return pad


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over the entries where ``mask`` is True; all-zero where a row has none (no NaN)."""
    filled = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return torch.softmax(filled, dim=dim) * mask
