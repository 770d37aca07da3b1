"""R-GCN (Schlichtkrull et al., 2018) encoder with basis or block-diagonal decomposition.

Layers are kemm's :class:`~kemm.embeddings.rgcn_conv.BasisRGCNConv` (``conv="vectorized"``, the
default for basis decomposition: all relations in one pass, memory O(E * B * D)), torch-geometric's
``RGCNConv`` (``conv="rgcn"``: loops over relations, memory O(E * D); the default for blocks) or
``FastRGCNConv`` (``conv="fast"``: one batched matmul per edge, memory O(E * D^2)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kemm.embeddings.base import register_model
from kemm.embeddings.gnn import GNNModel
from kemm.embeddings.rgcn_conv import BasisRGCNConv
from kemm.errors import KemmError
from kemm.registry import Registry

#: R-GCN layer implementations, each ``(dim, num_relations, decomposition, num_bases) -> nn.Module``
RGCN_CONVS: Registry = Registry("R-GCN conv")


@RGCN_CONVS.register("vectorized", aliases=("basis",))
def vectorized_conv(dim: int, num_relations: int, decomposition: str, num_bases: int) -> nn.Module:
    """kemm's :class:`BasisRGCNConv`: all relations in one pass (basis decomposition only)."""
    if decomposition != "basis":
        raise KemmError("conv 'vectorized' implements basis decomposition only; use rgcn or fast for blocks")
    return BasisRGCNConv(dim, dim, num_relations, num_bases)


def _pyg_kwargs(decomposition: str, num_bases: int) -> dict[str, int]:
    return {"num_bases": num_bases} if decomposition == "basis" else {"num_blocks": num_bases}


@RGCN_CONVS.register("rgcn")
def pyg_rgcn_conv(dim: int, num_relations: int, decomposition: str, num_bases: int) -> nn.Module:
    """torch-geometric's ``RGCNConv``: one propagation per relation, memory O(E * D)."""
    from torch_geometric.nn import RGCNConv

    return RGCNConv(dim, dim, num_relations, **_pyg_kwargs(decomposition, num_bases))


@RGCN_CONVS.register("fast")
def pyg_fast_rgcn_conv(dim: int, num_relations: int, decomposition: str, num_bases: int) -> nn.Module:
    """torch-geometric's ``FastRGCNConv``: one batched matmul per edge, memory O(E * D^2)."""
    from torch_geometric.nn import FastRGCNConv

    return FastRGCNConv(dim, dim, num_relations, **_pyg_kwargs(decomposition, num_bases))


@dataclass
class RGCNConfig:
    """Options of :class:`RGCN`.

    Attributes:
        dim: width of node features and of every layer (default 64).
        num_layers: message-passing layers (default 2).
        decomposition: ``"basis"`` or ``"block"`` weight sharing across relations.
        num_bases: bases (``basis``) or blocks (``block``; must divide ``dim``) (default 4).
        conv: a name in :data:`RGCN_CONVS`: ``"vectorized"`` (BasisRGCNConv; basis decomposition only),
            ``"rgcn"`` (RGCNConv) or ``"fast"`` (FastRGCNConv); ``"auto"`` (default): vectorized for
            basis, rgcn for block.
        dropout: dropout on hidden layers (default 0.2).
        decoder: a name in :data:`kemm.embeddings.decoders.DECODERS` (``"distmult"`` or ``"transe"``).
    """

    dim: int = 64
    num_layers: int = 2
    decomposition: str = "basis"
    num_bases: int = 4
    conv: str = "auto"
    dropout: float = 0.2
    decoder: str = "distmult"


@register_model("rgcn", aliases=("r-gcn",))
class RGCN(GNNModel):
    config_class = RGCNConfig

    def __init__(self, num_entities: int, num_relations: int, config: Any, graph: tuple) -> None:
        super().__init__(num_entities, num_relations, config, graph)
        c = self.config
        if c.decomposition not in ("basis", "block"):
            raise KemmError(f"unknown decomposition {c.decomposition!r}; choose basis or block")
        if c.decomposition == "block" and c.dim % c.num_bases:
            raise KemmError(f"block decomposition needs num_bases ({c.num_bases}) to divide dim ({c.dim})")
        kind = c.conv if c.conv != "auto" else ("vectorized" if c.decomposition == "basis" else "rgcn")
        conv = RGCN_CONVS.get(kind)
        n_rel = 2 * num_relations  # relations and their inverses
        layers = [conv(c.dim, n_rel, c.decomposition, c.num_bases) for _ in range(c.num_layers)]
        self.layers = nn.ModuleList(layers)
        self.relation = nn.Embedding(num_relations, c.dim)  # decoder relation vectors
        nn.init.xavier_uniform_(self.relation.weight)

    def encode(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for i, layer in enumerate(self.layers):
            x = layer(x, edge_index, edge_type)  # (n, D)
            if i < len(self.layers) - 1:
                x = F.dropout(F.relu(x), self.config.dropout, self.training)
        return x, self.relation.weight
