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


@dataclass
class RGCNConfig:
    """Options of :class:`RGCN`.

    Attributes:
        dim: width of node features and of every layer (default 64).
        num_layers: message-passing layers (default 2).
        decomposition: ``"basis"`` or ``"block"`` weight sharing across relations.
        num_bases: bases (``basis``) or blocks (``block``; must divide ``dim``) (default 4).
        conv: ``"vectorized"`` (BasisRGCNConv; basis decomposition only), ``"rgcn"`` (RGCNConv) or
            ``"fast"`` (FastRGCNConv); ``"auto"`` (default): vectorized for basis, rgcn for block.
        dropout: dropout on hidden layers (default 0.2).
        decoder: ``"distmult"`` or ``"transe"``.
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
        from torch_geometric.nn import FastRGCNConv, RGCNConv

        c = self.config
        if c.conv not in ("auto", "vectorized", "rgcn", "fast"):
            raise KemmError(f"unknown R-GCN conv {c.conv!r}; choose auto, vectorized, rgcn or fast")
        if c.decomposition not in ("basis", "block"):
            raise KemmError(f"unknown decomposition {c.decomposition!r}; choose basis or block")
        if c.decomposition == "block" and c.dim % c.num_bases:
            raise KemmError(f"block decomposition needs num_bases ({c.num_bases}) to divide dim ({c.dim})")
        kind = c.conv if c.conv != "auto" else ("vectorized" if c.decomposition == "basis" else "rgcn")
        if kind == "vectorized" and c.decomposition != "basis":
            raise KemmError(
                "conv 'vectorized' implements basis decomposition only; use rgcn or fast for blocks"
            )
        n_rel = 2 * num_relations  # relations and their inverses
        if kind == "vectorized":
            layers = [BasisRGCNConv(c.dim, c.dim, n_rel, c.num_bases) for _ in range(c.num_layers)]
        else:
            conv = RGCNConv if kind == "rgcn" else FastRGCNConv
            kw = {"num_bases": c.num_bases} if c.decomposition == "basis" else {"num_blocks": c.num_bases}
            layers = [conv(c.dim, c.dim, n_rel, **kw) for _ in range(c.num_layers)]
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
