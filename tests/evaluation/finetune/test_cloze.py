"""Cloze (LAMA) fine-tuning on the tiny benchmark: both candidate spaces scored, loss falls."""

from __future__ import annotations

import json

import pytest

from kemm.evaluation.ablation import FINETUNERS
from kemm.evaluation.finetune.cloze import finetune_cloze
from tests.evaluation.finetune.conftest import TINY_FINETUNE, ablation


@pytest.mark.parametrize("fusion", ["none", "tokens"])
def test_finetunes_and_scores(finetune_setup, tmp_path, fusion):
    assert FINETUNERS["lama"] is finetune_cloze
    cfg = ablation(finetune_setup, tasks=["lama"], finetune=TINY_FINETUNE)
    _, kg_dir, _, kge = finetune_setup
    res = finetune_cloze(cfg, "lama", fusion, 0, "fact-in-kg", kg_dir, kge, tmp_path / fusion)
    lines = [json.loads(x) for x in (tmp_path / fusion / "predictions.jsonl").read_text().splitlines()]
    probes = [
        json.loads(x)["uuid"] for x in (finetune_setup[0] / "lama" / "test.jsonl").read_text().splitlines()
    ]
    assert sorted(p["id"] for p in lines) == sorted(probes)
    assert all(p["entity_rank"] is not None for p in lines)  # every probe scored over KG entities
    assert res.counts["scored_entities"] == len(probes) and res.counts["scored_words"] >= 1
    assert {"p_at_1", "entity_p_at_1", "entity_mrr"} <= set(res.metrics)
    assert res.info["zero_shot"] is False
    losses = res.info["epoch_losses"]
    assert len(losses) == 8 and losses[-1] < losses[0]
