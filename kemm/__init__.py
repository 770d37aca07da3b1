"""kemm: knowledge-enhanced multimodal models.

The package is laid out along the pipeline:
``kemm.kg`` (ingest and store knowledge graphs) -> ``kemm.embeddings`` (KG representation learning)
-> ``kemm.linking`` (text and detected objects to entities) -> ``kemm.models`` (vision-language
fusion) -> ``kemm.pretraining`` -> ``kemm.evaluation``.
"""

from kemm.errors import KemmError

__version__ = "0.1.0.dev0"

__all__ = ["KemmError", "__version__"]
