"""Knowledge fusion modules, one per file, each registered in :data:`FUSION`."""

from kemm.models.fusion.base import (
    FUSION,
    FusionConfig,
    FusionContext,
    FusionModule,
    NoFusion,
    SequenceLayout,
    build_fusion,
)

__all__ = [
    "FUSION",
    "FusionConfig",
    "FusionContext",
    "FusionModule",
    "NoFusion",
    "SequenceLayout",
    "build_fusion",
]
