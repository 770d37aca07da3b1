"""Shared base of the GNN encoder + decoder models (R-GCN, CompGCN).

The encoder runs message passing over the *training* graph with inverse relations added
(relation ``r + num_relations`` is the inverse of ``r``); a decoder from the similarity family
scores triples from the encoded entity and relation vectors. In evaluation mode the full-graph
encoding is computed once and cached. For graphs too large for one full pass, the trainer calls
:meth:`GNNModel.score_hrt_sampled`, which encodes only a sampled k-hop subgraph around the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kemm.embeddings.base import KGEModel
from kemm.embeddings.decoders import DECODERS
from kemm.embeddings.sampling import NeighborSampler


class GNNModel(KGEModel):
    """Encoder (subclass's :meth:`encode`) + decoder (``config.decoder``, from :data:`DECODERS`).

    Buffers ``edge_index`` ``(2, E)`` and ``edge_type`` ``(E,)`` hold the training graph (saved with
    the weights, so a loaded model encodes exactly as it was trained).
    """

    needs_graph = True

    def __init__(self, num_entities: int, num_relations: int, config: Any, graph: tuple) -> None:
        super().__init__(num_entities, num_relations, config)
        self.decoder = DECODERS.build(self.config.decoder)
        edge_index, edge_type = (torch.as_tensor(x, dtype=torch.long) for x in graph)
        self.register_buffer("edge_index", edge_index.clone())
        self.register_buffer("edge_type", edge_type.clone())
        self.entity = nn.Embedding(num_entities, self.config.dim)
        nn.init.xavier_uniform_(self.entity.weight)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- graph ----------------------------------------------------------------------------
    def message_passing_graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training edges plus their inverses: ``(2, 2E)`` and ``(2E,)``."""
        ei: torch.Tensor = self.edge_index  # type: ignore[assignment]  # registered buffers
        et: torch.Tensor = self.edge_type  # type: ignore[assignment]
        return torch.cat([ei, ei.flip(0)], dim=1), torch.cat([et, et + self.num_relations])

    def make_sampler(self, fanouts: list[int], generator: torch.Generator | None = None) -> NeighborSampler:
        ei, et = self.message_passing_graph()
        return NeighborSampler(ei.cpu(), et.cpu(), self.num_entities, fanouts, generator)

    # -- encoder (subclasses) -------------------------------------------------------------
    def encode(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Node features ``(n, D)`` -> (node vectors ``(n, D)``, relation vectors ``(num_relations, D)``)."""
        raise NotImplementedError

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-graph encoding; cached while the model is in eval mode without gradients."""
        use_cache = not self.training and not torch.is_grad_enabled()
        if use_cache and self._cache is not None:
            return self._cache
        ei, et = self.message_passing_graph()
        reps = self.encode(self.entity.weight, ei, et)
        if use_cache:
            self._cache = reps
        return reps

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def post_step(self) -> None:
        self._cache = None

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        self._cache = None
        self.load_state_dict(state)

    # -- decoder --------------------------------------------------------------------------
    def score_hrt(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ent, rel = self.representations()
        return self.decoder.score(ent[h], rel[r], ent[t])  # (B,)

    def score_t(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        ent, rel = self.representations()
        return self.decoder.score_tails(ent[h], rel[r], ent)  # (B, N)

    def score_h(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ent, rel = self.representations()
        return self.decoder.score_heads(rel[r], ent[t], ent)  # (B, N)

    def score_hrt_sampled(
        self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, sampler: NeighborSampler
    ) -> torch.Tensor:
        """Scores ``(B,)`` from an encoding of the sampled neighbourhood of the batch's entities only."""
        sub = sampler.sample(torch.cat([h, t]).cpu())
        dev = self.entity.weight.device
        nodes = sub.nodes.to(dev)
        ent, rel = self.encode(self.entity(nodes), sub.edge_index.to(dev), sub.edge_type.to(dev))
        return self.decoder.score(ent[sub.local(h.cpu()).to(dev)], rel[r], ent[sub.local(t.cpu()).to(dev)])

    def regularization_terms(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        return [self.entity(h), self.entity(t)]

    def entity_embeddings(self) -> torch.Tensor:
        with torch.no_grad():
            return self.representations()[0].detach()

    def relation_embeddings(self) -> torch.Tensor:
        with torch.no_grad():
            return self.representations()[1].detach()
