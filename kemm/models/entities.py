"""Entity vectors for knowledge fusion: a KGE run's entity table, frozen or fine-tuned.

A fusion module reads entity vectors through :class:`EntityEmbeddings` (``ctx.entities`` of
:class:`kemm.models.fusion.base.FusionContext`): ``forward(ids)`` maps ids of any shape to
``(..., entity_dim)`` vectors, ``-1`` (no entity, NIL, padding) to the zero vector. The table comes
from a kemm KGE run (``RUN/`` of ``kemm kge train``: TransE, DistMult, ComplEx, RotatE, R-GCN or
CompGCN; complex models give their ``[re | im]`` real view, GNN encoders their encoded vectors) or
from any tensor. The projection to the host's hidden size is not here: each fusion module owns its
``Linear(entity_dim, hidden_size)``, so two modules never share one.

Modes:
    ``frozen``: the table is not trained (the usual choice with a good KGE run).
    ``finetune``: the table is a parameter trained with the model.
    ``finetune-kg``: as ``finetune``, plus :meth:`EntityEmbeddings.link_prediction_loss`, which
    scores a batch of KG triples against corrupted ones with the run's own score function (its
    relation vectors kept frozen) and pulls the used rows towards the original table, so the
    fine-tuned vectors keep modelling the KG (KnowBERT and ERNIE keep the KG embeddings fixed;
    this is the middle ground).

The config keeps the KG vocabulary fingerprint of the run (:func:`kemm.embeddings.run.vocabulary_fingerprint`),
so a checkpoint knows which KG its entity ids refer to; :meth:`EntityEmbeddings.check_kg` raises the
same "mismatched vocabulary" error as loading the run against another KG.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from kemm.errors import KemmError

logger = logging.getLogger(__name__)

MODES = ("frozen", "finetune", "finetune-kg")
Mode = Literal["frozen", "finetune", "finetune-kg"]


@dataclass
class EntityEmbeddingsConfig:
    """What :class:`EntityEmbeddings` needs to rebuild its tables before loading weights.

    Attributes:
        num_entities: rows of the table (the KG's entities).
        entity_dim: width of one vector.
        mode: ``frozen``, ``finetune`` or ``finetune-kg`` (see the module docstring).
        fingerprint: KG vocabulary fingerprint of the KGE run ("" when built from a tensor).
        kge_model: registered name of the KGE model (``"distmult"``, ``"rotate"``, ...; "" when none).
        kge_config: that model's options (to rebuild its score function).
        num_relations: KG relations (for the link-prediction loss; 0 when none).
        anchor_weight: weight of ``mean ||e - e_original||^2`` in the link-prediction loss.
        num_negatives: corrupted triples per true triple in the link-prediction loss.
        loss: a :data:`kemm.embeddings.losses.LOSSES` name for the link-prediction loss.
    """

    num_entities: int
    entity_dim: int
    mode: Mode = "frozen"
    fingerprint: str = ""
    kge_model: str = ""
    kge_config: dict[str, Any] = field(default_factory=dict)
    num_relations: int = 0
    anchor_weight: float = 1.0
    num_negatives: int = 8
    loss: str = "softplus"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise KemmError(f"entity embedding mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.num_entities < 1 or self.entity_dim < 1:
            raise KemmError(
                f"an entity table needs at least one entity and one dimension, got "
                f"{self.num_entities} x {self.entity_dim}"
            )


class EntityEmbeddings(nn.Module):
    """Entity ids -> KG embedding vectors.

    Shapes:
        ids: any shape ``(...)`` int64, ``-1`` = no entity.
        output: ``(..., entity_dim)``; zero where ``ids == -1``.

    Attributes:
        weight: ``(num_entities, entity_dim)``, a parameter (``requires_grad`` unless frozen).
        original: ``(num_entities, entity_dim)`` frozen copy of the loaded table (``finetune-kg`` only).
        scorer: the KGE run's score function with frozen relation vectors (``finetune-kg`` only).
    """

    def __init__(self, config: EntityEmbeddingsConfig, vectors: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        n, d = config.num_entities, config.entity_dim
        if vectors is None:
            vectors = torch.zeros(n, d)
        if tuple(vectors.shape) != (n, d):
            raise KemmError(f"entity vectors of shape {tuple(vectors.shape)}, expected ({n}, {d})")
        vectors = vectors.detach().float().clone()
        self.weight = nn.Parameter(vectors, requires_grad=config.mode != "frozen")
        self.scorer: _TripleScorer | None = None
        self.original: torch.Tensor | None
        self.register_buffer("original", vectors.clone() if config.mode == "finetune-kg" else None)
        if config.mode == "finetune-kg":
            self.scorer = _TripleScorer(config)

    @property
    def num_entities(self) -> int:
        return self.config.num_entities

    @property
    def entity_dim(self) -> int:
        return self.config.entity_dim

    @property
    def mode(self) -> str:
        return self.config.mode

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_tensor(
        cls,
        vectors: torch.Tensor,
        mode: Mode = "frozen",
        relations: torch.Tensor | None = None,
        **options: Any,
    ) -> EntityEmbeddings:
        """A table from ``vectors`` ``(N, d)``; ``relations`` ``(R, d)`` are DistMult relation vectors
        for ``finetune-kg`` (random when not given). ``options``: further config fields."""
        n, d = vectors.shape
        num_rel = int(relations.shape[0]) if relations is not None else int(options.pop("num_relations", 0))
        config = EntityEmbeddingsConfig(
            n, d, mode=mode, kge_model="distmult", kge_config={"dim": d}, num_relations=num_rel, **options
        )
        emb = cls(config, vectors)
        if emb.scorer is not None and relations is not None:
            emb.scorer.load_relations(relations)
        return emb

    @classmethod
    def from_kge_run(
        cls, run_dir: str | Path, kg: Any = None, mode: Mode = "frozen", **options: Any
    ) -> EntityEmbeddings:
        """The entity table of a kemm KGE run.

        Args:
            run_dir: the run directory (``kemm kge train --out RUN``).
            kg: the KG the model will link against (a ``KnowledgeGraph`` or its directory); its
                vocabulary must be the run's (else a "mismatched vocabulary" error). Default: the KG
                the run was trained on.
            mode: ``frozen``, ``finetune`` or ``finetune-kg``.
            options: further :class:`EntityEmbeddingsConfig` fields (``anchor_weight``, ...).
        """
        from kemm.embeddings.run import load_run, vocabulary_fingerprint

        model, graph = load_run(run_dir, kg)  # raises "mismatched vocabulary" on another KG
        model.eval()  # GNN encoders: no dropout in the exported vectors
        vectors = model.entity_embeddings()  # (N, d)
        config = EntityEmbeddingsConfig(
            int(vectors.shape[0]),
            int(vectors.shape[1]),
            mode=mode,
            fingerprint=vocabulary_fingerprint(graph),
            kge_model=model.registered_name,
            kge_config=dataclasses.asdict(model.config),
            num_relations=model.num_relations,
            **options,
        )
        emb = cls(config, vectors)
        if emb.scorer is not None:
            emb.scorer.load_from(model)
        logger.info(
            "entity vectors from %s: %s, %d x %d, %s",
            run_dir,
            model.registered_name,
            config.num_entities,
            config.entity_dim,
            mode,
        )
        return emb

    def check_kg(self, kg: Any) -> None:
        """Raise unless ``kg`` has the vocabulary these vectors were trained on (when known)."""
        from kemm.embeddings.run import vocabulary_fingerprint

        if not self.config.fingerprint:
            return
        theirs = vocabulary_fingerprint(kg)
        if theirs != self.config.fingerprint:
            raise KemmError(
                f"mismatched vocabulary: the entity vectors were trained on a KG with {self.num_entities} "
                f"entities (fingerprint {self.config.fingerprint[:12]}), but {kg.path or 'this KG'} has "
                f"{kg.num_entities} (fingerprint {theirs[:12]})"
            )

    # -- lookup ---------------------------------------------------------------------------
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(...)`` ids -> ``(..., entity_dim)`` vectors; ``-1`` -> zeros; other bad ids raise."""
        if ids.numel():
            hi, lo = int(ids.max()), int(ids.min())
            if hi >= self.num_entities:
                raise KemmError(
                    f"entity id {hi} is outside the entity table of {self.num_entities} entities "
                    f"(ids must come from the KG the KGE run was trained on)"
                )
            if lo < -1:
                raise KemmError(f"entity id {lo} is negative (only -1, no entity, is allowed)")
        out = nn.functional.embedding(ids.clamp_min(0), self.weight)  # (..., d)
        return out * (ids >= 0).unsqueeze(-1).to(out.dtype)

    # -- keeping fine-tuned vectors close to the KG --------------------------------------
    def link_prediction_loss(
        self, triples: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """KG loss of ``finetune-kg``: ``triples`` ``(B, 3)`` (head, relation, tail ids) against
        ``num_negatives`` uniformly corrupted heads or tails each, scored with the run's score
        function (frozen relations) on the current table and the configured kemm loss, plus
        ``anchor_weight * mean ||e - e_original||^2`` over the entities the batch used. A scalar.
        """
        if self.scorer is None:
            raise KemmError(
                f"link_prediction_loss needs mode 'finetune-kg', the entity table is {self.mode!r}"
            )
        from kemm.embeddings.losses import build_loss
        from kemm.embeddings.negatives import NegativeSampler

        cfg = self.config
        triples = triples.to(self.weight.device).long()
        if triples.ndim != 2 or triples.shape[1] != 3:
            raise KemmError(f"triples must have shape (B, 3), got {tuple(triples.shape)}")
        rel = triples[:, 1]
        if len(rel) and (int(rel.max()) >= cfg.num_relations or int(rel.min()) < 0):
            raise KemmError(f"relation ids must lie in [0, {cfg.num_relations}), got up to {int(rel.max())}")
        sampler = NegativeSampler(
            triples.cpu(),
            cfg.num_entities,
            cfg.num_relations,
            cfg.num_negatives,
            "uniform",
            generator=generator,
        )
        neg, _ = sampler.sample(triples.cpu())
        neg = neg.to(triples.device)  # (B, K, 3)
        pos_s = self.scorer(self(triples[:, 0]), rel, self(triples[:, 2]))  # (B,)
        neg_s = self.scorer(self(neg[..., 0]), neg[..., 1], self(neg[..., 2]))  # (B, K)
        loss = build_loss(cfg.loss).slcwa(pos_s, neg_s)
        if cfg.anchor_weight:
            used = torch.unique(torch.cat([triples[:, [0, 2]].reshape(-1), neg[..., [0, 2]].reshape(-1)]))
            assert self.original is not None
            drift = (self.weight[used] - self.original[used]).pow(2).sum(-1).mean()
            loss = loss + cfg.anchor_weight * drift
        return loss

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.num_entities}, {c.entity_dim}, mode={c.mode!r}, kge={c.kge_model or None!r}"


class _TripleScorer(nn.Module):
    """The KGE run's triple score on given entity vectors, with its relation vectors frozen.

    Shallow models (TransE, DistMult, ComplEx, RotatE) use their own ``interaction``; GNN encoders
    (R-GCN, CompGCN) their decoder (:data:`kemm.embeddings.decoders.DECODERS`) on their encoded
    relation vectors; a table from a tensor, DistMult. Shapes: ``h, t`` ``(..., d)``, ``r`` ``(...)``
    ids -> ``(...)``.
    """

    def __init__(self, config: EntityEmbeddingsConfig) -> None:
        super().__init__()
        from kemm.embeddings import KGE_MODELS, build_model
        from kemm.embeddings.decoders import DECODERS

        if config.num_relations < 1:
            raise KemmError("mode 'finetune-kg' needs the KG's relations (num_relations or relation vectors)")
        name = config.kge_model or "distmult"
        kwargs = dict(config.kge_config) or {"dim": config.entity_dim}
        cls = KGE_MODELS.get(name) if name in KGE_MODELS else None
        self.model: Any = None  # a shallow KGEModel
        self.decoder: Any = None
        self.relations: torch.Tensor | None
        self.register_buffer("relations", None)
        if cls is not None and hasattr(cls, "interaction"):
            # the shallow model itself, with a one-row entity table: only its relations and interaction are used
            self.model = build_model(name, 1, config.num_relations, **kwargs)
            self.model.requires_grad_(False)
        else:
            self.decoder = DECODERS.build(kwargs.get("decoder", "distmult"))
            self.register_buffer("relations", torch.randn(config.num_relations, config.entity_dim) * 0.1)

    def load_relations(self, relations: torch.Tensor) -> None:
        target = self.model.relation.weight if self.model is not None else self.relations
        assert target is not None
        if tuple(relations.shape) != tuple(target.shape):
            raise KemmError(
                f"relation vectors of shape {tuple(relations.shape)}, expected {tuple(target.shape)}"
            )
        with torch.no_grad():
            target.copy_(relations)

    def load_from(self, model: Any) -> None:
        """Copy the relation vectors of a loaded KGE model."""
        if self.model is not None:
            self.load_relations(model.relation.weight.detach())
        else:
            self.load_relations(model.relation_embeddings())

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.model is not None:
            return self.model.interaction(h, self.model.relation(r), t)
        assert self.decoder is not None and self.relations is not None
        return self.decoder.score(h, self.relations[r], t)
