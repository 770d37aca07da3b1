"""``gnn``: QA-GNN / GreaseLM interaction between the host and the retrieved subgraph.

QA-GNN (Yasunaga et al., 2021, "QA-GNN: Reasoning with Language Models and Knowledge Graphs for
Question Answering", NAACL) joins the k-hop subgraph of the linked entities and a *context node*
carrying the language model's state, with node types (question entity, answer entity, other,
context) and edge features from the relation and both node types, and reasons over it with a GAT.
GreaseLM (Zhang et al., 2022, "GreaseLM: Graph REASoning Enhanced Language Models for Question
Answering", ICLR) interleaves that message passing with the last k layers of the host and, at each
of them, exchanges information through an MLP over ``[CLS ; context node]`` whose output is split
back into both.

Here, at the first fusion layer the context node takes the projected ``[CLS]`` (``hidden[:, 0]``),
the other nodes their projected KG vectors; each fusion layer then runs one message-passing step
(``torch_geometric.nn.GATConv`` with QA-GNN's edge features, or ``RGCNConv``, where the context
edges, relation id -1, are one more relation and every KG edge also runs backwards as its inverse
relation) with a residual, and the exchange MLP rewrites ``hidden[:, 0]`` and the context node.
Only position 0 of the host's sequence changes. Every example has its context node, so an example
without any linked entity still goes through the exchange (its graph is the context node alone):
it is not computed as without fusion.

After the last fusion layer ``ctx.extras["graph_pooled"]`` ``(B, D)`` is QA-GNN's graph pooling,
attention over the example's non-context nodes with the ``[CLS]`` state as query (zeros for an
example without nodes), and ``ctx.extras["graph_context"]`` ``(B, D)`` the context node,
projected: with ``[CLS]`` they are the three inputs of QA-GNN's answer scorer. For heads that
answer with a KG entity (cloze, VQA), ``ctx.extras["graph_nodes"]`` ``(M, D)`` are the final
states of the ``M`` non-context nodes of the batch, projected, with ``"graph_node_batch"`` ``(M,)``
(their example) and ``"graph_node_entity"`` ``(M,)`` (their entity id):
:class:`kemm.models.heads.SubgraphPointer` scores an example's answer among its own nodes, as
QA-GNN scores answer nodes from the graph.

Shapes:
    hidden ``(B, T, D)``; node states ``(N, Dn)`` over the batch's graphs (``ctx.state["gnn"]``);
    ``graph.context_index`` ``(B,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import nn

from kemm.errors import KemmError
from kemm.models.fusion.base import FUSION, FusionConfig, FusionContext, FusionModule
from kemm.models.knowledge import NODE_TYPES


@dataclass
class GNNConfig(FusionConfig):
    """Options of :class:`GNNFusion`.

    Attributes:
        layers: host layers after which a message-passing step and the exchange run (default:
            the upper half, at least the last layer; GreaseLM's last k layers).
        dropout: dropout on node updates and the exchange (default 0.1).
        conv: ``gat`` (QA-GNN; default) or ``rgcn``.
        node_dim: width of the node states (default 0: hidden_size).
        heads: GAT attention heads (default 2; must divide node_dim).
        num_bases: R-GCN basis decomposition (default 0: none).
        exchange_hidden: hidden width of the exchange MLP (default 0: hidden_size).
        mention_states: at the first fusion layer a node linked from a mention of its example
            also takes the host's state there (the mean over the mention's text span or its object
            region, projected), so a node knows where in the input its entity was linked from
            (which object: the one on the left, the red one); default False (QA-GNN: KG vectors only).
    """

    conv: Literal["gat", "rgcn"] = "gat"
    node_dim: int = 0
    heads: int = 2
    num_bases: int = 0
    exchange_hidden: int = 0
    mention_states: bool = False


class GNNLayer(nn.Module):
    """One fusion layer: a message-passing step and the ``[CLS ; context node]`` exchange MLP."""

    def __init__(self, d: int, dn: int, conv: nn.Module, exchange_hidden: int) -> None:
        super().__init__()
        self.conv = conv
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(dn)
        self.exchange = nn.Sequential(
            nn.Linear(d + dn, exchange_hidden), nn.GELU(), nn.Linear(exchange_hidden, d + dn)
        )


@FUSION.register("gnn", aliases=("qagnn", "greaselm"))
class GNNFusion(FusionModule):
    """Message passing over the subgraph plus a context node, in the last layers of the host.

    Attributes:
        entity_in: ``Linear(entity_dim, node_dim)``; ``context_in``: ``Linear(hidden_size, node_dim)``.
        node_type: embedding of :data:`kemm.models.knowledge.NODE_TYPES`.
        gnn: one :class:`GNNLayer` per fusion layer, keyed by the layer index.
    """

    config_class = GNNConfig
    needs_graph = True

    def __init__(self, config: GNNConfig | None = None, **host) -> None:
        super().__init__(config, **host)
        c, d = self.config, self.hidden_size
        dn = c.node_dim or d
        self.node_dim = dn
        if c.conv not in ("gat", "rgcn"):
            raise KemmError(f"gnn: conv must be 'gat' or 'rgcn', got {c.conv!r}")
        if c.conv == "gat" and dn % c.heads:
            raise KemmError(f"gnn: heads={c.heads} does not divide node_dim={dn}")
        self.layers = self.fusion_layers(
            list(range(min(self.num_layers // 2, self.num_layers - 1), self.num_layers))
        )
        # relations: KG r in [0, R), its inverse R + r, and the context edges 2R
        self.num_edge_types = 2 * self.num_relations + 1
        self.entity_in = nn.Linear(self.entity_dim, dn)
        self.context_in = nn.Linear(d, dn)
        self.node_type = nn.Embedding(len(NODE_TYPES), dn)
        if c.conv == "gat":
            # QA-GNN's edge encoder: relation and both node types -> an edge feature
            self.edge_relation = nn.Embedding(self.num_edge_types, dn)
            self.edge_head_type = nn.Embedding(len(NODE_TYPES), dn)
            self.edge_tail_type = nn.Embedding(len(NODE_TYPES), dn)
            self.edge_mlp = nn.Sequential(nn.GELU(), nn.Linear(dn, dn))
        self.gnn = nn.ModuleDict(
            {str(i): GNNLayer(d, dn, self._conv(dn), c.exchange_hidden or d) for i in self.layers}
        )
        self.pool_query = nn.Linear(d, dn)
        self.pool_key = nn.Linear(dn, dn)
        self.pool_value = nn.Linear(dn, d)
        self.context_out = nn.Linear(dn, d)
        self.node_out = nn.Linear(dn, d)
        self.mention_in = nn.Linear(d, dn) if c.mention_states else None
        self.dropout = nn.Dropout(c.dropout)

    def _conv(self, dn: int) -> nn.Module:
        from torch_geometric.nn import GATConv, RGCNConv

        c = self.config
        if c.conv == "gat":
            return GATConv(dn, dn // c.heads, heads=c.heads, edge_dim=dn, dropout=c.dropout)
        return RGCNConv(dn, dn, self.num_edge_types, num_bases=c.num_bases or None)

    def begin(self, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        graph: Any = ctx.knowledge.graph  # a torch_geometric Batch
        b = hidden.shape[0]
        if graph is None:
            ctx.state["gnn"] = None
            zeros = hidden.new_zeros(b, self.hidden_size)
            ctx.extras["graph_pooled"], ctx.extras["graph_context"] = zeros, zeros
            return hidden
        if graph.num_graphs != b:
            raise KemmError(f"gnn: the knowledge batch has {graph.num_graphs} graphs for {b} examples")
        r = self.num_relations
        node_type = graph.node_type
        edge_index, rel = graph.edge_index, graph.edge_type
        if len(rel) and int(rel.max()) >= r:
            raise KemmError(f"gnn: relation id {int(rel.max())} is outside the module's {r} KG relations")
        kg_edge = rel >= 0  # (E,)
        # both directions: KG edges r and their inverses R + r; context edges (-1) -> 2R
        rev_index = edge_index[:, kg_edge].flip(0)  # (2, E_kg)
        edge_index = torch.cat([edge_index, rev_index], dim=1)  # (2, E')
        rel = torch.cat([torch.where(kg_edge, rel, torch.full_like(rel, 2 * r)), rel[kg_edge] + r])  # (E',)
        x = self.entity_in(ctx.entities(graph.node_entity)) + self.node_type(node_type)  # (N, Dn)
        edge_attr = None
        if self.config.conv == "gat":
            src, dst = edge_index
            edge_attr = self.edge_mlp(
                self.edge_relation(rel)
                + self.edge_head_type(node_type[src])
                + self.edge_tail_type(node_type[dst])
            )  # (E', Dn)
        ctx.state["gnn"] = {
            "x": x.to(hidden.dtype),
            "edge_index": edge_index,
            "edge_type": rel,
            "edge_attr": edge_attr,
            "context": graph.context_index,
            "batch": graph.batch,
            "entity": graph.node_entity,
            "started": False,
        }
        return hidden

    def _mention_states(self, hidden: torch.Tensor, ctx: FusionContext, st: dict) -> torch.Tensor:
        """``(N, Dn)``: for each node, the projected mean host state of its example's mentions
        linked to its entity (zero for a node no mention is linked to, and the context nodes)."""
        from kemm.models.fusion.base import mention_alignment

        assert self.mention_in is not None
        align, valid = mention_alignment(ctx, hidden.shape[1], need_entity=True)  # (B, M, T), (B, M)
        states = align @ hidden / align.sum(-1, keepdim=True).clamp_min(1.0)  # (B, M, D)
        kb = ctx.knowledge
        b_idx, m_idx = valid.nonzero(as_tuple=True)  # (K,)
        n_ent = int(ctx.entities.num_entities) if ctx.entities is not None else 0  # type: ignore[arg-type]
        out = hidden.new_zeros(len(st["entity"]), self.node_dim)
        if len(b_idx) == 0 or n_ent == 0:
            return out
        # mentions and nodes meet on (example, entity); a node takes the mean of its mentions
        m_key = b_idx * n_ent + kb.entity_ids[b_idx, m_idx]  # (K,)
        n_key = st["batch"] * n_ent + st["entity"].clamp_min(0)  # (N,)
        keys, inverse = torch.unique(m_key, return_inverse=True)  # (U,), (K,)
        summed = hidden.new_zeros(len(keys), hidden.shape[-1]).index_add_(0, inverse, states[b_idx, m_idx])
        count = torch.bincount(inverse, minlength=len(keys)).clamp_min(1)[:, None]
        pos = torch.searchsorted(keys, n_key).clamp_max(len(keys) - 1)  # (N,)
        hit = (keys[pos] == n_key) & (st["entity"] >= 0)  # (N,) context nodes (-1) never match
        proj = self.mention_in(summed / count)  # (U, Dn)
        return torch.where(hit[:, None], proj[pos], out)

    def after_layer(self, index: int, hidden: torch.Tensor, ctx: FusionContext) -> torch.Tensor:
        if str(index) not in self.gnn:
            return hidden
        st = ctx.state.get("gnn")
        if st is None:
            return hidden
        layer = cast(GNNLayer, self.gnn[str(index)])
        d = self.hidden_size
        x, ci = st["x"], st["context"]
        cls = hidden[:, 0]  # (B, D)
        if not st["started"]:  # the context node carries the pooled host state
            x = x.index_copy(0, ci, self.context_in(cls).to(x.dtype))  # (N, Dn)
            if self.mention_in is not None:
                x = x + self._mention_states(hidden, ctx, st).to(x.dtype)
            st["started"] = True
        if self.config.conv == "gat":
            msg = layer.conv(x, st["edge_index"], st["edge_attr"])  # (N, Dn)
        else:
            msg = layer.conv(x, st["edge_index"], st["edge_type"])  # (N, Dn)
        x = layer.norm(x + self.dropout(layer.act(msg)))  # (N, Dn)
        # GreaseLM's modality interaction: [CLS ; context node] -> MLP -> split back
        mixed = layer.exchange(torch.cat([cls, x[ci]], dim=-1))  # (B, D + Dn)
        mixed = self.dropout(mixed)
        new_cls, new_ctx = mixed[:, :d], mixed[:, d:]  # (B, D), (B, Dn)
        x = x.index_copy(0, ci, new_ctx)  # (N, Dn)
        hidden = torch.cat([new_cls[:, None, :].to(hidden.dtype), hidden[:, 1:]], dim=1)  # (B, T, D)
        st["x"] = x
        if index == self.layers[-1]:
            self._pool(new_cls, x, st, ctx)
        return hidden

    def _pool(self, cls: torch.Tensor, x: torch.Tensor, st: dict, ctx: FusionContext) -> None:
        """QA-GNN's graph pooling: attention of the ``[CLS]`` query over each example's nodes."""
        from torch_geometric.utils import softmax

        batch = st["batch"]  # (N,)
        is_node = torch.ones_like(batch, dtype=torch.bool)
        is_node[st["context"]] = False
        sel = is_node.nonzero().squeeze(-1)  # (N',)
        q = self.pool_query(cls)  # (B, Dn)
        k = self.pool_key(x[sel])  # (N', Dn)
        score = (q[batch[sel]] * k).sum(-1) / self.node_dim**0.5  # (N',)
        alpha = softmax(score, batch[sel], num_nodes=cls.shape[0])  # (N',)
        val = self.pool_value(x[sel]) * alpha[:, None]  # (N', D)
        pooled = cls.new_zeros(cls.shape[0], self.hidden_size).index_add(0, batch[sel], val.to(cls.dtype))
        ctx.extras["graph_pooled"] = pooled  # (B, D)
        ctx.extras["graph_context"] = self.context_out(x[st["context"]])  # (B, D)
        ctx.extras["graph_nodes"] = self.node_out(x[sel]).to(cls.dtype)  # (M, D)
        ctx.extras["graph_node_batch"] = batch[sel]  # (M,)
        ctx.extras["graph_node_entity"] = st["entity"][sel]  # (M,)
