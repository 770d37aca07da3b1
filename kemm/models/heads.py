"""Task heads over any architecture's output, consumed by the pre-training objectives and the
evaluation tasks. Heads that score KG entities take the model's entity table
(:class:`~kemm.models.entities.EntityEmbeddings`) and score by dot product with the projected
hidden state, so a new entity (or an answer never seen in training) can still be scored.

Shapes: ``B`` examples, ``L`` tokens, ``R`` regions, ``M`` mentions, ``C`` candidates, ``N``
entities, ``D`` hidden size, ``E`` entity_dim, ``V`` word vocabulary, ``A`` answer vocabulary.

| head | input | output |
|---|---|---|
| :class:`ITMHead` | pooled (B, D) | (B, 2) match / no match |
| :class:`MLMHead` | hidden (B, L, D) | (B, L, V), decoder tied to the word embeddings |
| :class:`ObjectClassificationHead` | regions (B, R, D) | (B, R, N): a region's class is its entity |
| :class:`EntityPredictionHead` | mentions (B, M, D), candidate ids (B, [M,] C) | (B, M, C) (ERNIE's dEA) |
| :class:`MultipleChoiceHead` | pooled (B*K, D) [+ graph_pooled] | (B, K) |
| :class:`VQAHead` | pooled (B, D), entity candidates | :class:`~kemm.models.outputs.VQAHeadOutput` |
| :class:`ClozeHead` | hidden (B, L, D), blank positions (B,) | :class:`~kemm.models.outputs.ClozeHeadOutput` |
| :class:`SubgraphPointer` | query (B, D), entity logits (B, N), graph extras | (B, N) |

The entity answers of :class:`VQAHead` and :class:`ClozeHead` also read the retrieved subgraph when
the fusion module reasoned over one (``gnn``: its node states in ``extras``): through
:class:`SubgraphPointer` an example's own nodes get a score from their final states. Without
graph extras (``fusion: none`` and the other modules) the pointer adds nothing, so the baseline
runs the same head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

from kemm.models.entities import EntityEmbeddings
from kemm.models.outputs import ClozeHeadOutput, VQAHeadOutput

NEG_INF = float("-inf")


def _all_ids(entities: EntityEmbeddings, device: torch.device) -> torch.Tensor:
    return torch.arange(int(entities.num_entities), device=device)  # (N,)


class EntityScorer(nn.Module):
    """``hidden (..., D)`` x entity vectors -> logits: ``proj(hidden) . e`` (+ a bias).

    Shapes:
        hidden: (..., D); vectors: (N, E) or (..., C, E) -> (..., N) or (..., C)
    """

    def __init__(self, hidden_size: int, entity_dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.LayerNorm(hidden_size))
        self.out = nn.Linear(hidden_size, entity_dim)

    def forward(self, hidden: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        q = self.out(self.proj(hidden))  # (..., E)
        if vectors.ndim == 2:
            return q @ vectors.t()  # (..., N)
        return (q.unsqueeze(-2) * vectors).sum(-1)  # (..., C)


def _add_at(
    logits: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``logits`` ``(B, K)`` with ``values`` ``(M,)`` added at ``(rows, cols)`` (repeats add up)."""
    return logits.index_put((rows, cols), values.to(logits.dtype), accumulate=True)


class SubgraphPointer(nn.Module):
    """QA-GNN's answer-node scoring for open answers: each node of an example's retrieved subgraph
    adds ``(W_q q) . (W_k x_node) / sqrt(D)`` to that example's logit of the node's entity.

    ``extras`` are a fusion module's outputs (:class:`kemm.models.fusion.gnn.GNNFusion`'s
    ``graph_nodes`` ``(M, D)``, ``graph_node_batch`` ``(M,)``, ``graph_node_entity`` ``(M,)``);
    without them, or with no node, the logits come back unchanged.

    Shapes:
        query: (B, D); logits: (B, N) over all entities -> (B, N)
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.scale = hidden_size**-0.5

    def node_scores(
        self, query: torch.Tensor, extras: dict[str, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(example (M,), entity (M,), score (M,))`` of every node, or None without nodes."""
        nodes = (extras or {}).get("graph_nodes")
        if nodes is None or len(nodes) == 0:
            return None
        assert extras is not None
        batch, entity = extras["graph_node_batch"], extras["graph_node_entity"]  # (M,), (M,)
        keep = entity >= 0
        batch, entity, nodes = batch[keep], entity[keep], nodes[keep]
        score = (self.query(query)[batch] * self.key(nodes)).sum(-1) * self.scale  # (M,)
        return batch, entity, score

    def forward(
        self, query: torch.Tensor, logits: torch.Tensor, extras: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        scored = self.node_scores(query, extras)
        return logits if scored is None else _add_at(logits, *scored)


class ITMHead(nn.Module):
    """Image-text matching: ``(B, D) -> (B, 2)`` logits (0 = mismatch, 1 = match)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc(pooled)


class MLMHead(nn.Module):
    """Masked language modelling, BERT's prediction head, its decoder tied to ``word_embeddings``.

    Shapes:
        hidden: (..., D) -> (..., V)
    """

    def __init__(
        self, word_embeddings: nn.Embedding, hidden_act: str = "gelu", layer_norm_eps: float = 1e-12
    ) -> None:
        super().__init__()
        vocab, width = word_embeddings.weight.shape
        self.dense = nn.Linear(width, width)
        self.act = ACT2FN[hidden_act]
        self.norm = nn.LayerNorm(width, eps=layer_norm_eps)
        self.decoder = nn.Linear(width, vocab)
        self.decoder.weight = word_embeddings.weight  # tied

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.act(self.dense(hidden))))


class ObjectClassificationHead(nn.Module):
    """Masked object classification: a region's class is its KG entity.

    Logits over all ``N`` entities of the table, or over ``candidates`` ``(B, R, C)`` ids (-1 padded,
    scored -inf).

    Shapes:
        regions: (B, R, D) -> (B, R, N), or (B, R, C) with candidates
    """

    def __init__(self, hidden_size: int, entity_dim: int) -> None:
        super().__init__()
        self.scorer = EntityScorer(hidden_size, entity_dim)

    def forward(
        self, regions: torch.Tensor, entities: EntityEmbeddings, candidates: torch.Tensor | None = None
    ) -> torch.Tensor:
        if candidates is None:
            return self.scorer(regions, entities(_all_ids(entities, regions.device)))
        logits = self.scorer(regions, entities(candidates))  # (B, R, C)
        return logits.masked_fill(candidates < 0, NEG_INF)


class EntityPredictionHead(nn.Module):
    """ERNIE's denoising entity auto-encoder (dEA): each mention picks its entity among candidates
    (the entities of the batch, or its own candidates) by dot product with their KG vectors.

    Shapes:
        hidden: (B, M, D) one vector per mention (e.g. the mean of its tokens)
        candidates: (C,) shared by the batch, (B, C) per example or (B, M, C) per mention; -1 padded
        returns: (B, M, C), -inf where a candidate is padding
    """

    def __init__(self, hidden_size: int, entity_dim: int) -> None:
        super().__init__()
        self.scorer = EntityScorer(hidden_size, entity_dim)

    def forward(
        self, hidden: torch.Tensor, candidates: torch.Tensor, entities: EntityEmbeddings
    ) -> torch.Tensor:
        b, m = hidden.shape[:2]
        if candidates.ndim == 1:
            candidates = candidates.expand(b, -1)
        if candidates.ndim == 2:
            candidates = candidates[:, None].expand(b, m, -1)  # (B, M, C)
        logits = self.scorer(hidden, entities(candidates))  # (B, M, C)
        return logits.masked_fill(candidates < 0, NEG_INF)

    @staticmethod
    def batch_candidates(entity_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ERNIE's candidate set: the distinct entities of the batch, and each mention's target.

        Returns ``candidates`` ``(C,)`` and ``targets`` ``(B, M)`` (index into candidates; -100 where the
        mention has no entity, ignored by ``cross_entropy``).
        """
        ids = entity_ids[entity_ids >= 0]
        candidates, inverse = torch.unique(ids, return_inverse=True)
        targets = torch.full_like(entity_ids, -100)
        targets[entity_ids >= 0] = inverse
        return candidates, targets


class MultipleChoiceHead(nn.Module):
    """One logit per choice from the pooled state of each (question, choice) pair; with a graph
    fusion module also from its pooled graph (``extras["graph_pooled"]``, QA-GNN's ``[z; g]``).

    Shapes:
        pooled: (B * K, D); graph_pooled: (B * K, G) or None -> (B, K)
    """

    def __init__(self, hidden_size: int, graph_size: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, 1)
        self.graph_fc = nn.Linear(graph_size, 1, bias=False) if graph_size else None

    def forward(
        self, pooled: torch.Tensor, num_choices: int, graph_pooled: torch.Tensor | None = None
    ) -> torch.Tensor:
        logit = self.fc(self.dropout(pooled))  # (B * K, 1)
        if graph_pooled is not None and self.graph_fc is not None:
            logit = logit + self.graph_fc(self.dropout(graph_pooled))
        return logit.view(-1, num_choices)  # (B, K)


class VQAHead(nn.Module):
    """VQA answers from a classifier over the answer vocabulary *and* a pointer over KG entities
    (KRISP style), mixed by a learned gate, so an answer never seen in training can still be
    produced when it is a KG entity. Over all entities the pointer also scores the example's
    subgraph nodes (:class:`SubgraphPointer`, given the fusion module's ``extras``).

    Shapes:
        pooled: (B, D); candidates: None (all N entities), (N,) or (B, N) ids, -1 padded
        returns: :class:`VQAHeadOutput` (answer_logits (B, A), entity_logits (B, N), gate (B, 1),
        log_probs (B, A + N))
    """

    def __init__(self, hidden_size: int, num_answers: int, entity_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.classifier = nn.Sequential(
            nn.Linear(hidden_size, 2 * hidden_size),
            nn.GELU(),
            nn.LayerNorm(2 * hidden_size),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden_size, num_answers),
        )
        self.pointer = EntityScorer(hidden_size, entity_dim)
        self.subgraph = SubgraphPointer(hidden_size)
        self.gate = nn.Linear(hidden_size, 1)

    def forward(
        self,
        pooled: torch.Tensor,
        entities: EntityEmbeddings,
        candidates: torch.Tensor | None = None,
        extras: dict[str, torch.Tensor] | None = None,
    ) -> VQAHeadOutput:
        answer = self.classifier(pooled)  # (B, A)
        if candidates is None:
            entity = self.pointer(pooled, entities(_all_ids(entities, pooled.device)))  # (B, N)
            entity = self.subgraph(pooled, entity, extras)
        else:
            if candidates.ndim == 1:
                candidates = candidates.expand(pooled.shape[0], -1)
            entity = self.pointer(pooled, entities(candidates)).masked_fill(candidates < 0, NEG_INF)  # (B, N)
        gate = torch.sigmoid(self.gate(pooled))  # (B, 1)
        log_probs = torch.cat(
            [F.log_softmax(answer, -1) + torch.log(gate), F.log_softmax(entity, -1) + torch.log1p(-gate)], -1
        )  # (B, A + N)
        return VQAHeadOutput(answer_logits=answer, entity_logits=entity, gate=gate, log_probs=log_probs)


class ClozeHead(nn.Module):
    """Cloze (LAMA style) at each example's blank: over the word vocabulary (the tied MLM head) and
    over the KG entities (dot product with their vectors, plus :class:`SubgraphPointer` over the
    example's subgraph nodes given the fusion module's ``extras``). With ``entity_words`` (the
    word id of each entity whose label is one token, -1 otherwise) a node's pointer score is also
    added to the word of its label, so the word answer can come from the subgraph too.

    Shapes:
        hidden: (B, L, D); positions: (B,) index of the blank; entity_words: (N,)
        -> word (B, V), entity (B, N)
    """

    def __init__(self, word_embeddings: nn.Embedding, entity_dim: int, hidden_act: str = "gelu") -> None:
        super().__init__()
        self.mlm = MLMHead(word_embeddings, hidden_act)
        self.entity = EntityScorer(word_embeddings.weight.shape[1], entity_dim)
        self.subgraph = SubgraphPointer(word_embeddings.weight.shape[1])

    def forward(
        self,
        hidden: torch.Tensor,
        positions: torch.Tensor,
        entities: EntityEmbeddings | None = None,
        extras: dict[str, torch.Tensor] | None = None,
        entity_words: torch.Tensor | None = None,
    ) -> ClozeHeadOutput:
        at = hidden[torch.arange(hidden.shape[0], device=hidden.device), positions]  # (B, D)
        word = self.mlm(at)  # (B, V)
        entity = None
        if entities is not None:
            entity = self.entity(at, entities(_all_ids(entities, hidden.device)))  # (B, N)
            scored = self.subgraph.node_scores(at, extras)
            if scored is not None:
                batch, ent, score = scored
                entity = _add_at(entity, batch, ent, score)
                if entity_words is not None:
                    w = entity_words[ent]  # (M,)
                    keep = w >= 0
                    word = _add_at(word, batch[keep], w[keep], score[keep])
        return ClozeHeadOutput(word_logits=word, entity_logits=entity)
