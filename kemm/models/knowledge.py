"""The knowledge a vision-language model receives: one typed batch per model call.

Per example, kemm's linker (``kemm.linking``) gives the entity mentions of the text (token spans)
and of the image (object regions), each with candidate entities and their priors, and
``kemm.kg.subgraph`` gives the retrieved k-hop subgraph. :class:`ExampleKnowledge` holds that for
one example; :meth:`KnowledgeBatch.collate` pads a list of them into tensors. Empty knowledge is
normal: an example with no mention has an all-false ``mention_mask`` (and, with graphs, a graph of
its context node only).

Shapes (``B`` examples, ``M`` mentions, ``C`` candidates, ``N`` graph nodes, ``E`` graph edges):
    entity_ids:        (B, M)     linked entity per mention; -1 where padded (or linked to NIL)
    mention_mask:      (B, M)     True for a real mention
    mention_source:    (B, M)     0 = text span, 1 = object region
    mention_start/end: (B, M)     token span in the *text token sequence* (end exclusive); -1 for regions
    mention_region:    (B, M)     index of the object region in the example's region list; -1 for text
    candidate_ids:     (B, M, C)  candidate entities of each mention (KnowBERT); -1 where padded
    candidate_priors:  (B, M, C)  prior of each candidate (alias prior or linker score), 0 where padded
    graph:             a PyG ``Batch`` (or None): ``node_entity`` (N,) entity id (-1 for the context
                       node), ``node_type`` (N,) in :data:`NODE_TYPES`, ``edge_index`` (2, E),
                       ``edge_type`` (E,) KG relation id, ``batch`` (N,) example of each node,
                       and ``context_index`` (B,) node index of each example's context node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kemm.errors import KemmError

#: QA-GNN's node types (Yasunaga et al., 2021), plus the context node that carries the LM state.
NODE_TYPES = {"question": 0, "answer": 1, "other": 2, "context": 3}
TEXT, REGION = 0, 1


@dataclass
class Mention:
    """One linked mention of one example.

    Attributes:
        entity: linked entity id (-1: NIL).
        source: ``"text"`` (``start``/``end`` are text-token positions, end exclusive) or ``"region"``
            (``region`` is the object region's index).
        candidates: candidate entity ids, best first; ``priors`` their prior scores.
    """

    entity: int
    source: str = "text"
    start: int = -1
    end: int = -1
    region: int = -1
    candidates: list[int] = field(default_factory=list)
    priors: list[float] = field(default_factory=list)


@dataclass
class ExampleKnowledge:
    """The knowledge of one example: its mentions and, optionally, its retrieved subgraph.

    Attributes:
        mentions: linked mentions (text spans and object regions), in any order.
        nodes: subgraph node entity ids; ``node_types`` their QA-GNN types (names of :data:`NODE_TYPES`,
            without the context node, which collation adds).
        edges: ``(head_index, relation_id, tail_index)`` over positions in ``nodes``.
    """

    mentions: list[Mention] = field(default_factory=list)
    nodes: list[int] | None = None
    node_types: list[str] | None = None
    edges: list[tuple[int, int, int]] | None = None


@dataclass
class KnowledgeBatch:
    """Padded knowledge of a batch; see the module docstring for every field's shape."""

    entity_ids: torch.Tensor
    mention_mask: torch.Tensor
    mention_source: torch.Tensor
    mention_start: torch.Tensor
    mention_end: torch.Tensor
    mention_region: torch.Tensor
    candidate_ids: torch.Tensor
    candidate_priors: torch.Tensor
    graph: object | None = None  # torch_geometric.data.Batch

    @property
    def batch_size(self) -> int:
        return int(self.entity_ids.shape[0])

    @property
    def num_mentions(self) -> int:
        return int(self.entity_ids.shape[1])

    @property
    def device(self) -> torch.device:
        return self.entity_ids.device

    def is_empty(self) -> bool:
        """No example of the batch has a mention."""
        return not bool(self.mention_mask.any())

    def only(self, source: int) -> KnowledgeBatch:
        """The same batch with only the mentions from ``source`` (``TEXT`` or ``REGION``) kept."""
        import dataclasses

        return dataclasses.replace(self, mention_mask=self.mention_mask & (self.mention_source == source))

    def to(self, device: torch.device | str) -> KnowledgeBatch:
        moved = {k: v.to(device) for k, v in self.__dict__.items() if isinstance(v, torch.Tensor)}
        graph = self.graph.to(device) if self.graph is not None else None  # type: ignore[attr-defined]
        return KnowledgeBatch(**moved, graph=graph)

    @classmethod
    def empty(cls, batch_size: int, device: torch.device | str = "cpu") -> KnowledgeBatch:
        """A batch without any mention (what ``fusion: none`` and unlinked examples see)."""
        return cls.collate([ExampleKnowledge() for _ in range(batch_size)], device=device)

    @classmethod
    def collate(
        cls,
        examples: list[ExampleKnowledge],
        device: torch.device | str = "cpu",
        with_graph: bool | None = None,
    ) -> KnowledgeBatch:
        """Pad ``examples`` into one batch.

        Args:
            with_graph: build ``graph`` (default: when any example has ``nodes``). Each example's
                graph gets a context node (type ``context``, entity -1) linked to every question
                and answer node by relation id -1 in both directions (QA-GNN's context edges).
        """
        b = len(examples)
        m = max([len(e.mentions) for e in examples] + [1])
        c = max([len(x.candidates) for e in examples for x in e.mentions] + [1])
        ent = torch.full((b, m), -1, dtype=torch.long)
        mask = torch.zeros((b, m), dtype=torch.bool)
        source = torch.zeros((b, m), dtype=torch.long)
        start = torch.full((b, m), -1, dtype=torch.long)
        end = torch.full((b, m), -1, dtype=torch.long)
        region = torch.full((b, m), -1, dtype=torch.long)
        cand = torch.full((b, m, c), -1, dtype=torch.long)
        prior = torch.zeros((b, m, c), dtype=torch.float)
        for i, ex in enumerate(examples):
            for j, men in enumerate(ex.mentions):
                _check_mention(i, men)
                ent[i, j] = men.entity
                mask[i, j] = True
                source[i, j] = REGION if men.source == "region" else TEXT
                start[i, j], end[i, j], region[i, j] = men.start, men.end, men.region
                k = len(men.candidates)
                if k:
                    cand[i, j, :k] = torch.as_tensor(men.candidates, dtype=torch.long)
                    prior[i, j, :k] = torch.as_tensor(men.priors or [1.0 / k] * k, dtype=torch.float)
        graph = None
        if with_graph or (with_graph is None and any(e.nodes is not None for e in examples)):
            graph = _collate_graphs(examples)
        return cls(ent, mask, source, start, end, region, cand, prior, graph).to(device)


def _check_mention(i: int, men: Mention) -> None:
    if men.source not in ("text", "region"):
        raise KemmError(f"example {i}: mention source must be 'text' or 'region', got {men.source!r}")
    if men.source == "text" and not 0 <= men.start < men.end:
        raise KemmError(f"example {i}: a text mention needs 0 <= start < end, got {men.start}..{men.end}")
    if men.source == "region" and men.region < 0:
        raise KemmError(f"example {i}: a region mention needs its region index, got {men.region}")
    if men.priors and len(men.priors) != len(men.candidates):
        raise KemmError(
            f"example {i}: {len(men.candidates)} candidates but {len(men.priors)} priors for entity {men.entity}"
        )


def _collate_graphs(examples: list[ExampleKnowledge]):
    from torch_geometric.data import Batch, Data

    datas = []
    for ex in examples:
        nodes = list(ex.nodes or [])
        names = ex.node_types or ["other"] * len(nodes)
        bad = [t for t in names if t not in NODE_TYPES or t == "context"]
        if bad or len(names) != len(nodes):
            raise KemmError(
                f"node_types must name each of the {len(nodes)} nodes as question, answer or other "
                f"(collation adds the context node), got {names}"
            )
        types = [NODE_TYPES[t] for t in names]
        edges = list(ex.edges or [])
        ctx = len(nodes)
        for i, t in enumerate(types):
            if t in (NODE_TYPES["question"], NODE_TYPES["answer"]):
                edges += [(ctx, -1, i), (i, -1, ctx)]
        nodes.append(-1)
        types.append(NODE_TYPES["context"])
        ei = torch.tensor([[h for h, _, _ in edges], [t for _, _, t in edges]], dtype=torch.long).view(2, -1)
        et = torch.tensor([r for _, r, _ in edges], dtype=torch.long)
        datas.append(
            Data(
                node_entity=torch.tensor(nodes, dtype=torch.long),
                node_type=torch.tensor(types, dtype=torch.long),
                edge_index=ei,
                edge_type=et,
                num_nodes=len(nodes),
            )
        )
    graph = Batch.from_data_list(datas)
    ptr = graph.ptr  # (B + 1,)
    graph.context_index = ptr[1:] - 1  # the context node is each graph's last node
    return graph
