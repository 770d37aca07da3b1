"""CompGCN (Vashishth et al., 2020): relation-aware message passing with composition operators.

A message is ``W_dir @ phi(x_src, z_rel)`` where ``phi`` is subtraction, multiplication or circular
correlation, ``W_dir`` depends on the edge direction (original, inverse, self-loop), and relation
vectors are updated by their own linear map at each layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from kemm.embeddings.base import register_model
from kemm.embeddings.gnn import GNNModel
from kemm.errors import KemmError

COMPOSITIONS = ("sub", "mult", "corr")


def compose(x: torch.Tensor, r: torch.Tensor, op: str) -> torch.Tensor:
    """``phi(x, r)`` for ``(..., D)`` tensors: ``sub`` x - r, ``mult`` x * r, ``corr`` circular correlation."""
    if op == "sub":
        return x - r
    if op == "mult":
        return x * r
    n = x.shape[-1]
    return torch.fft.irfft(torch.conj(torch.fft.rfft(x, dim=-1)) * torch.fft.rfft(r, dim=-1), n=n, dim=-1)


class CompGCNConv(MessagePassing):
    """One CompGCN layer. ``forward(x (n, D_in), edge_index (2, E), edge_type (E,), rel (2R, D_in))``
    returns ``(x' (n, D_out), rel' (2R, D_out))``; edge types ``>= R`` are inverse edges."""

    def __init__(self, in_dim: int, out_dim: int, composition: str = "mult") -> None:
        super().__init__(aggr="mean")
        self.composition = composition
        self.w_in = nn.Linear(in_dim, out_dim, bias=False)
        self.w_out = nn.Linear(in_dim, out_dim, bias=False)
        self.w_loop = nn.Linear(in_dim, out_dim, bias=False)
        self.w_rel = nn.Linear(in_dim, out_dim, bias=False)
        self.loop_rel = nn.Parameter(torch.empty(1, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        nn.init.xavier_uniform_(self.loop_rel)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor, rel: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inverse = edge_type >= rel.size(0) // 2  # (E,)
        agg = self.propagate(edge_index, x=x, rel=rel[edge_type], inverse=inverse)  # (n, D_out)
        loop = self.w_loop(compose(x, self.loop_rel, self.composition))  # (n, D_out)
        return 0.5 * (agg + loop) + self.bias, self.w_rel(rel)

    def message(self, x_j: torch.Tensor, rel: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
        m = compose(x_j, rel, self.composition)  # (E, D_in)
        return torch.where(inverse[:, None], self.w_out(m), self.w_in(m))  # (E, D_out)


@dataclass
class CompGCNConfig:
    """Options of :class:`CompGCN`.

    Attributes:
        dim: width of entity/relation vectors and every layer (default 64).
        num_layers: message-passing layers (default 1).
        composition: ``"sub"``, ``"mult"`` or ``"corr"``.
        dropout: dropout after each layer (default 0.1).
        decoder: a name in :data:`kemm.embeddings.decoders.DECODERS` (``"distmult"`` or ``"transe"``).
    """

    dim: int = 64
    num_layers: int = 1
    composition: str = "mult"
    dropout: float = 0.1
    decoder: str = "distmult"


@register_model("compgcn", aliases=("comp-gcn",))
class CompGCN(GNNModel):
    config_class = CompGCNConfig

    def __init__(self, num_entities: int, num_relations: int, config: Any, graph: tuple) -> None:
        super().__init__(num_entities, num_relations, config, graph)
        c = self.config
        if c.composition not in COMPOSITIONS:
            raise KemmError(
                f"unknown composition {c.composition!r}; choose one of: {', '.join(COMPOSITIONS)}"
            )
        self.relation = nn.Parameter(torch.empty(2 * num_relations, c.dim))  # with inverses
        nn.init.xavier_uniform_(self.relation)
        self.layers = nn.ModuleList(CompGCNConv(c.dim, c.dim, c.composition) for _ in range(c.num_layers))

    def encode(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rel = self.relation
        for layer in self.layers:
            x, rel = layer(x, edge_index, edge_type, rel)
            x = nn.functional.dropout(torch.tanh(x), self.config.dropout, self.training)  # (n, D)
        return x, rel[: self.num_relations]
