"""Cloze (LAMA) fine-tuning on the tiny benchmark: both candidate spaces scored, loss falls."""

from __future__ import annotations

import json

import pytest
import torch

from kemm.evaluation.ablation import FINETUNERS
from kemm.evaluation.finetune.cloze import finetune_cloze
from kemm.kg.graph import KnowledgeGraph
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


def _checkpoint(finetune_setup, root, fusion="none", entity_head=True):
    """A saved model (own entity table), tokenizer and pre-training heads with random weights."""
    from safetensors.torch import save_file

    from kemm.evaluation.finetune.base import FinetuneConfig, load_backbone
    from kemm.kg.graph import KnowledgeGraph
    from kemm.models.heads import EntityScorer, MLMHead

    _, kg_dir, _, kge = finetune_setup
    cfg = FinetuneConfig.from_dict(TINY_FINETUNE)
    model, tokenizer = load_backbone(cfg, fusion, KnowledgeGraph.load(kg_dir), kge)
    with torch.no_grad():  # a table of its own, unlike the KGE run's: zero-shot must score this one
        model.entities.weight.normal_()
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(str(root / "model"))
    mlm = MLMHead(model.text.embeddings.word_embeddings)
    state = {f"mlm.head.{k}": v.contiguous() for k, v in mlm.state_dict().items() if k != "decoder.weight"}
    scorer = EntityScorer(model.text.config.hidden_size, int(model.entities.entity_dim))
    if entity_head:
        state.update({f"entity-denoising.head.scorer.{k}": v for k, v in scorer.state_dict().items()})
    save_file(state, str(root / "model" / "objectives.safetensors"))
    return mlm, scorer


def test_zero_shot_scores_the_checkpoints_own_heads(finetune_setup, tmp_path):
    """Words from the saved MLM head, entities from the saved dEA scorer over the saved table:
    recomputed here from the saved files alone, the blank's top answers match."""
    from kemm.data import MASK
    from kemm.evaluation.datasets import example_id, load_examples
    from kemm.evaluation.finetune.cloze import zero_shot_cloze
    from kemm.evaluation.tasks.lama import read_vocabulary, word_protocol
    from kemm.models import load_model
    from kemm.pretraining.run import load_tokenizer

    assert FINETUNERS["lama-zero-shot"] is zero_shot_cloze
    bench, kg_dir, _, kge = finetune_setup
    mlm, scorer = _checkpoint(finetune_setup, tmp_path / "run")
    abl = ablation(finetune_setup, tasks=["lama-zero-shot"], pretrained={"none": str(tmp_path / "run")})
    res = zero_shot_cloze(abl, "lama-zero-shot", "none", 0, "fact-in-kg", kg_dir, kge, tmp_path / "out")
    assert res.task == "lama-zero-shot" and res.info["zero_shot"] is True
    assert res.info["entity_head_from_pretraining"] is True and "epoch_losses" not in res.info
    assert not (tmp_path / "out" / "train").exists()  # nothing was fine-tuned
    preds = {
        p["id"]: p for p in map(json.loads, (tmp_path / "out" / "predictions.jsonl").read_text().splitlines())
    }

    model = load_model(tmp_path / "run" / "model").eval()
    tok = load_tokenizer(str(tmp_path / "run" / "model"), None)
    mlm.decoder.weight = model.text.embeddings.word_embeddings.weight
    examples = load_examples("lama", bench / "lama" / "test.jsonl")
    protocol = word_protocol(examples, read_vocabulary(bench / "lama" / "vocab.txt"), tok.tokenize)
    columns = [tok.convert_tokens_to_ids(tok.tokenize(w)[0]) for w in protocol.candidates]
    keys = list(KnowledgeGraph.load(kg_dir).entities.keys)
    checked = 0
    for ex in examples:
        enc = tok(ex.masked_sentences[0].replace(MASK, tok.mask_token), return_tensors="pt")
        with torch.no_grad():
            hidden = model.text(**enc).last_hidden_state[0]  # no knowledge under fusion none
            at = hidden[enc["input_ids"][0].tolist().index(tok.mask_token_id)]
            word = protocol.candidates[int(mlm(at)[columns].argmax())]
            entity = keys[int(scorer(at, model.entities.weight).argmax())]
        p = preds[example_id(ex)]
        assert p["entity_prediction"] == entity
        if example_id(ex) in protocol.scored:
            assert p["prediction"] == word
            checked += 1
    assert checked > 0


def test_zero_shot_refuses_what_it_cannot_score(finetune_setup, tmp_path):
    from kemm.errors import KemmError
    from kemm.evaluation.finetune.cloze import zero_shot_cloze

    _, kg_dir, _, kge = finetune_setup
    with pytest.raises(KemmError, match="pretrained` has none for none"):
        ablation(finetune_setup, tasks=["lama-zero-shot"])  # checked with the config
    _checkpoint(finetune_setup, tmp_path / "run", entity_head=False)
    abl = ablation(finetune_setup, tasks=["lama-zero-shot"], pretrained={"none": str(tmp_path / "run")})
    with pytest.raises(KemmError, match="fact in the KG only"):
        zero_shot_cloze(abl, "lama-zero-shot", "none", 0, "fact-removed", kg_dir, kge, tmp_path / "x")
    res = zero_shot_cloze(abl, "lama-zero-shot", "none", 0, "fact-in-kg", kg_dir, kge, tmp_path / "y")
    assert res.info["entity_head_from_pretraining"] is False  # words only
    assert "p_at_1" in res.metrics and "entity_p_at_1" not in res.metrics


def test_ablation_runs_zero_shot_with_the_fact_in_the_kg_only(finetune_setup, tmp_path):
    from kemm.evaluation.ablation import run_ablation

    _checkpoint(finetune_setup, tmp_path / "run")
    abl = ablation(
        finetune_setup,
        tasks=["lama-zero-shot"],
        pretrained={"none": str(tmp_path / "run")},
        settings=["fact-in-kg", "fact-removed"],
        seeds=[0, 1],
        baselines=True,
    )
    run_ablation(abl, tmp_path / "rep")
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert [(r["task"], r["setting"], r["seed"]) for r in doc["runs"]] == [
        ("lama-zero-shot", "fact-in-kg", 0)
    ]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "lama-zero-shot: not run with fact-removed" in md and "*chance (uniform guess)*" in md
    assert "lama-zero-shot: run for seed 0 only" in md
