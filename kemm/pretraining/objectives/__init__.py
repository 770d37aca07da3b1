"""Pre-training objectives, one per file, each registered in :data:`OBJECTIVES`."""

from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
    build_objective,
)
from kemm.pretraining.objectives.entity_denoising import EntityDenoising
from kemm.pretraining.objectives.itc import ImageTextContrastive
from kemm.pretraining.objectives.itm import ImageTextMatching
from kemm.pretraining.objectives.link_prediction import LinkPrediction
from kemm.pretraining.objectives.masked_objects import MaskedObjectClassification
from kemm.pretraining.objectives.mlm import MaskedLanguageModelling

__all__ = [
    "OBJECTIVES",
    "EntityDenoising",
    "HostSizes",
    "ImageTextContrastive",
    "ImageTextMatching",
    "LinkPrediction",
    "MaskedLanguageModelling",
    "MaskedObjectClassification",
    "Objective",
    "ObjectiveConfig",
    "ObjectiveOutput",
    "StepContext",
    "build_objective",
]
