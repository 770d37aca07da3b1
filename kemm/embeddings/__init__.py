"""Knowledge representation learning: KG embedding models, training, filtered link-prediction evaluation.

>>> from kemm.embeddings import build_model, KGE_MODELS
>>> sorted(KGE_MODELS.names())
['compgcn', 'complex', 'distmult', 'rgcn', 'rotate', 'transe']
"""

from kemm.embeddings import compgcn, complex, distmult, rgcn, rotate, transe  # noqa: F401 - registration
from kemm.embeddings.base import KGE_MODELS, KGEModel, build_model, load_model, register_model

__all__ = ["KGE_MODELS", "KGEModel", "build_model", "load_model", "register_model"]
