"""Vision-language transformers with pluggable knowledge fusion.

Architectures (registry :data:`ARCHITECTURES`, one file each): ``single-stream``
(:mod:`~kemm.models.single_stream`), ``dual-stream`` (:mod:`~kemm.models.dual_stream`) and
``dual-encoder`` (:mod:`~kemm.models.dual_encoder`); heads in :mod:`~kemm.models.heads`; fusion
modules in :mod:`kemm.models.fusion`; the knowledge a model receives in :mod:`~kemm.models.knowledge`.
"""

from kemm.models.base import ARCHITECTURES, KemmPreTrainedModel, build_model, load_model
from kemm.models.configuration import (
    DualEncoderConfig,
    DualStreamConfig,
    SingleStreamConfig,
    VLConfig,
)
from kemm.models.dual_encoder import DualEncoderModel
from kemm.models.dual_stream import DualStreamModel
from kemm.models.single_stream import SingleStreamModel

__all__ = [
    "ARCHITECTURES",
    "DualEncoderConfig",
    "DualEncoderModel",
    "DualStreamConfig",
    "DualStreamModel",
    "KemmPreTrainedModel",
    "SingleStreamConfig",
    "SingleStreamModel",
    "VLConfig",
    "build_model",
    "load_model",
]
