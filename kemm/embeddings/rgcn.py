"""R-GCN (Schlichtkrull et al., 2018) encoder with basis or block-diagonal decomposition.

Layers are torch-geometric's ``RGCNConv`` (loops over relations, memory O(E * D)) or
``FastRGCNConv`` (one batched matmul per edge, faster on small graphs, memory O(E * D^2)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kemm.embeddings.base import register_model
from kemm.embeddings.gnn import GNNModel
from kemm.errors import KemmError


@dataclass
class RGCNConfig:
    """Options of :class:`RGCN`.

    Attributes:
        dim: width of node features and of every layer (default 64).
        num_layers: message-passing layers (default 2).
        decomposition: ``"basis"`` or ``"block"`` weight sharing across relations.
        num_bases: bases (``basis``) or blocks (``block``; must divide ``dim``) (default 4).
        conv: ``"rgcn"`` (RGCNConv) or ``"fast"`` (FastRGCNConv).
        dropout: dropout on hidden layers (default 0.2).
        decoder: ``"distmult"`` or ``"transe"``.
    """

    dim: int = 64
    num_layers: int = 2
    decomposition: str = "basis"
    num_bases: int = 4
    conv: str = "rgcn"
    dropout: float = 0.2
    decoder: str = "distmult"


@register_model("rgcn", aliases=("r-gcn",))
class RGCN(GNNModel):
    config_class = RGCNConfig

    def __init__(self, num_entities: int, num_relations: int, config: Any, graph: tuple) -> None:
        super().__init__(num_entities, num_relations, config, graph)
        from torch_geometric.nn import FastRGCNConv, RGCNConv

        c = self.config
        if c.conv not in ("rgcn", "fast"):
            raise KemmError(f"unknown R-GCN conv {c.conv!r}; choose rgcn or fast")
        if c.decomposition not in ("basis", "block"):
            raise KemmError(f"unknown decomposition {c.decomposition!r}; choose basis or block")
        if c.decomposition == "block" and c.dim % c.num_bases:
            raise KemmError(f"block decomposition needs num_bases ({c.num_bases}) to divide dim ({c.dim})")
        conv = RGCNConv if c.conv == "rgcn" else FastRGCNConv
        kw = {"num_bases": c.num_bases} if c.decomposition == "basis" else {"num_blocks": c.num_bases}
        self.layers = nn.ModuleList(conv(c.dim, c.dim, 2 * num_relations, **kw) for _ in range(c.num_layers))
        self.relation = nn.Embedding(num_relations, c.dim)  # decoder relation vectors
        nn.init.xavier_uniform_(self.relation.weight)

    def encode(self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        for i, layer in enumerate(self.layers):
            x = layer(x, edge_index, edge_type)  # (n, D)
            if i < len(self.layers) - 1:
                x = F.dropout(F.relu(x), self.config.dropout, self.training)
        return x, self.relation.weight
