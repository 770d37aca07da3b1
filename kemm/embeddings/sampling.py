"""Neighbour sampling for GNN encoders on graphs too large for one full message-passing pass.

A CSR index over *incoming* edges (messages flow ``src -> dst``) lets each hop draw ``fanout``
edges per frontier node in a few vectorised tensor operations; the cost of a batch follows the
batch and the fanouts, not the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Subgraph:
    """A sampled subgraph with local node ids.

    Attributes:
        nodes: ``(n,)`` global ids of the subgraph's nodes, sorted.
        edge_index: ``(2, e)`` local ``src, dst`` ids.
        edge_type: ``(e,)`` relation ids (inverse relations included).
    """

    nodes: torch.Tensor
    edge_index: torch.Tensor
    edge_type: torch.Tensor

    def local(self, global_ids: torch.Tensor) -> torch.Tensor:
        """Local ids of ``global_ids`` (all must be nodes of the subgraph)."""
        return torch.searchsorted(self.nodes, global_ids.contiguous())


class NeighborSampler:
    """k-hop sampler: ``fanouts[i]`` incoming edges per node at hop ``i`` (drawn with replacement, deduplicated).

    Args:
        edge_index: ``(2, E)`` message-passing edges ``src, dst`` (inverse edges already added).
        edge_type: ``(E,)`` relation ids.
        num_nodes: number of nodes.
        fanouts: edges drawn per node and hop, e.g. ``[10, 10]`` for two layers.
        generator: random generator (seeded by the trainer for repeatable runs).
    """

    def __init__(
        self,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        num_nodes: int,
        fanouts: list[int],
        generator: torch.Generator | None = None,
    ) -> None:
        dst = edge_index[1]
        order = torch.argsort(dst, stable=True)
        self.src = edge_index[0][order]  # (E,) sorted by destination
        self.dst = dst[order]
        self.type = edge_type[order]
        counts = torch.bincount(dst, minlength=num_nodes)
        self.indptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=self.indptr[1:])
        self.fanouts = list(fanouts)
        self.generator = generator

    def sample(self, seeds: torch.Tensor) -> Subgraph:
        """The sampled computation graph of ``seeds`` (``(S,)`` global ids)."""
        nodes = torch.unique(seeds)
        frontier = nodes
        picked = []
        for fanout in self.fanouts:
            if frontier.numel() == 0:
                break
            start = self.indptr[frontier]
            deg = self.indptr[frontier + 1] - start  # (F,)
            u = torch.rand(frontier.numel(), fanout, generator=self.generator)
            eid = start[:, None] + (u * deg[:, None]).long()  # (F, fanout)
            eid = torch.unique(eid[(deg > 0)[:, None].expand_as(eid)])
            picked.append(eid)
            src = self.src[eid]
            frontier = torch.unique(src[~torch.isin(src, nodes)])
            nodes = torch.cat([nodes, frontier])
        nodes, _ = torch.sort(nodes)
        eid = torch.unique(torch.cat(picked)) if picked else torch.empty(0, dtype=torch.long)
        edge_index = torch.stack(
            [torch.searchsorted(nodes, self.src[eid]), torch.searchsorted(nodes, self.dst[eid])]
        )
        return Subgraph(nodes, edge_index, self.type[eid])
