"""The offline multimodal knowledge benchmark generated from a commonsense KG and emoji sprites.

>>> from kemm.kg import ingest
>>> from kemm.data.benchmark import BenchmarkConfig, make_benchmark
>>> kg, _ = ingest(["knowledge_graphs/commonsense/commonsense.ttl"])       # doctest: +SKIP
>>> make_benchmark(kg, "runs/benchmark", BenchmarkConfig(seed=0))          # doctest: +SKIP
"""

from kemm.data.benchmark.build import BenchmarkSummary, make_benchmark
from kemm.data.benchmark.config import ALL_SPLITS, SEEN_SPLIT, SPLITS, BenchmarkConfig, SceneConfig
from kemm.data.benchmark.knowledge import EMOJI_PREDICATE, BenchmarkKnowledge
from kemm.data.benchmark.show import render_example

__all__ = [
    "ALL_SPLITS",
    "EMOJI_PREDICATE",
    "SEEN_SPLIT",
    "SPLITS",
    "BenchmarkConfig",
    "BenchmarkKnowledge",
    "BenchmarkSummary",
    "SceneConfig",
    "make_benchmark",
    "render_example",
]
