"""Knowledge-graph store: ingest sources, keep vocabularies and integer triples, split, export.

>>> from kemm.kg import KnowledgeGraph, ingest
>>> kg, skipped = ingest(["knowledge_graphs/commonsense/commonsense.ttl"])  # doctest: +SKIP
>>> kg.save("runs/kg/commonsense")                                           # doctest: +SKIP
"""

from kemm.kg.builder import KGBuilder
from kemm.kg.graph import CSR, Attributes, KnowledgeGraph
from kemm.kg.readers import READERS, detect_format, ingest
from kemm.kg.split import split_triples
from kemm.kg.stats import compute_stats
from kemm.kg.vocab import Vocabulary

__all__ = [
    "CSR",
    "READERS",
    "Attributes",
    "KGBuilder",
    "KnowledgeGraph",
    "Vocabulary",
    "compute_stats",
    "detect_format",
    "ingest",
    "split_triples",
]
