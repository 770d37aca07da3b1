"""Knowledge representation learning: KG embedding models, training, filtered link-prediction evaluation.

>>> from kemm.embeddings import build_model, MODELS
>>> sorted(MODELS.names())
['compgcn', 'complex', 'distmult', 'rgcn', 'rotate', 'transe']
"""

from kemm.embeddings import compgcn, complex, distmult, rgcn, rotate, transe  # noqa: F401 - registration
from kemm.embeddings.base import MODELS, KGEModel, build_model, load_model, register_model

__all__ = ["MODELS", "KGEModel", "build_model", "load_model", "register_model"]
