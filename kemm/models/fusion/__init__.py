"""Knowledge fusion modules, one per file, each registered in :data:`FUSION`.

``none`` (the baseline), ``tokens`` (entity tokens), ``ernie`` (ERNIE's knowledgeable aggregator),
``knowbert`` (KnowBERT's knowledge attention and recontextualisation), ``gnn`` (QA-GNN / GreaseLM).
"""

from kemm.models.fusion import ernie, gnn, knowbert, tokens  # noqa: F401 - registration
from kemm.models.fusion.base import (
    FUSION,
    FusionConfig,
    FusionContext,
    FusionModule,
    NoFusion,
    SequenceLayout,
    build_fusion,
    mention_alignment,
)
from kemm.models.fusion.ernie import ErnieConfig, ErnieFusion
from kemm.models.fusion.gnn import GNNConfig, GNNFusion
from kemm.models.fusion.knowbert import KnowBertConfig, KnowBertFusion
from kemm.models.fusion.tokens import TokenFusion, TokensConfig

__all__ = [
    "FUSION",
    "ErnieConfig",
    "ErnieFusion",
    "FusionConfig",
    "FusionContext",
    "FusionModule",
    "GNNConfig",
    "GNNFusion",
    "KnowBertConfig",
    "KnowBertFusion",
    "NoFusion",
    "SequenceLayout",
    "TokenFusion",
    "TokensConfig",
    "build_fusion",
    "mention_alignment",
]
