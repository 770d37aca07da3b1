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


def test_word_scorer_starts_from_the_pretrained_mlm_head(finetune_setup, tmp_path):
    from safetensors.torch import save_file

    from kemm.evaluation.finetune.base import FinetuneConfig, load_backbone
    from kemm.kg.graph import KnowledgeGraph
    from kemm.models.heads import MLMHead

    _, kg_dir, _, kge = finetune_setup
    cfg = FinetuneConfig.from_dict(TINY_FINETUNE)
    model, tokenizer = load_backbone(cfg, "none", KnowledgeGraph.load(kg_dir), kge)
    run = tmp_path / "run" / "model"
    model.save_pretrained(run)
    tokenizer.save_pretrained(str(run))
    head = MLMHead(model.text.embeddings.word_embeddings)
    state = {f"mlm.head.{k}": v.contiguous() for k, v in head.state_dict().items() if k != "decoder.weight"}
    save_file(state, str(run / "objectives.safetensors"))
    abl = ablation(
        finetune_setup,
        tasks=["lama"],
        pretrained={"none": str(tmp_path / "run")},
        finetune={**TINY_FINETUNE, "epochs": 1},
    )
    res = finetune_cloze(abl, "lama", "none", 0, "fact-in-kg", kg_dir, kge, tmp_path / "out")
    assert res.info["mlm_head_from_pretraining"] is True
