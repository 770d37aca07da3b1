"""Multiple-choice fine-tuning on the tiny benchmark: loss falls, predictions complete, fusions run."""

from __future__ import annotations

import json

import pytest

from kemm.errors import KemmError
from kemm.evaluation.ablation import FINETUNERS
from kemm.evaluation.finetune.multiple_choice import finetune_multiple_choice, pair_texts
from tests.evaluation.finetune.conftest import ablation


def _run(setup, tmp_path, fusion, **changes):
    cfg = ablation(setup, **changes)
    _, kg_dir, _, kge = setup
    return finetune_multiple_choice(cfg, "csqa", fusion, 0, "fact-in-kg", kg_dir, kge, tmp_path / fusion)


def test_registered():
    assert FINETUNERS["csqa"] is finetune_multiple_choice


def test_pair_texts_mark_the_choice():
    from kemm.data import MultipleChoiceExample

    ex = MultipleChoiceExample("q", "Where is an apple?", ["tree", "desk"], ["A", "B"], 0)
    texts, starts = pair_texts([ex])
    assert texts == ["Where is an apple? [SEP] tree", "Where is an apple? [SEP] desk"]
    assert texts[1][starts[1] :] == "desk"


@pytest.mark.parametrize("fusion", ["none", "tokens"])
def test_finetunes_and_scores(finetune_setup, tmp_path, fusion):
    res = _run(finetune_setup, tmp_path, fusion)
    lines = [json.loads(x) for x in (tmp_path / fusion / "predictions.jsonl").read_text().splitlines()]
    test_ids = [
        json.loads(x)["id"] for x in (finetune_setup[0] / "csqa" / "test.jsonl").read_text().splitlines()
    ]
    assert sorted(p["id"] for p in lines) == sorted(test_ids)
    assert all(0 <= p["prediction"] < 5 for p in lines)
    assert res.task == "csqa" and 0.0 <= res.metrics["accuracy"] <= 1.0
    assert res.info["fusion"] == fusion and res.info["train_questions"] > 0
    losses = res.info["epoch_losses"]
    assert len(losses) == 8 and losses[-1] < losses[0]
    if fusion == "tokens":
        assert any(p["entities"] for p in lines)  # the questions were grounded to KG entities


def test_rerun_reuses_the_result_of_the_same_settings(finetune_setup, tmp_path, caplog):
    one = {**ablation(finetune_setup).finetune, "epochs": 1}
    first = _run(finetune_setup, tmp_path, "none", finetune=one)
    with caplog.at_level("INFO"):
        again = _run(finetune_setup, tmp_path, "none", finetune=one)
    assert again.metrics == first.metrics and "exists; reused" in caplog.text
    other = _run(finetune_setup, tmp_path, "none", finetune={**one, "max_train": 8})
    assert other.info["train_questions"] == 8  # other settings: run again


def test_bad_checkpoints_are_one_error(finetune_setup, tmp_path):
    with pytest.raises(KemmError, match="not a pre-training run or saved kemm model"):
        _run(finetune_setup, tmp_path, "none", pretrained={"none": str(tmp_path)})
    # a saved model of another fusion module
    from kemm.evaluation.finetune.base import FinetuneConfig, load_backbone
    from kemm.kg.graph import KnowledgeGraph

    _, kg_dir, _, kge = finetune_setup
    cfg = FinetuneConfig.from_dict(ablation(finetune_setup).finetune)
    model, _ = load_backbone(cfg, "tokens", KnowledgeGraph.load(kg_dir), kge)
    model.save_pretrained(tmp_path / "tok")
    with pytest.raises(KemmError, match="fusion 'tokens', not 'none'"):
        _run(finetune_setup, tmp_path, "none", pretrained={"none": str(tmp_path / "tok")})


def test_starts_from_a_pretraining_run(finetune_setup, tmp_path):
    from kemm.evaluation.finetune.base import FinetuneConfig, load_backbone
    from kemm.kg.graph import KnowledgeGraph

    _, kg_dir, _, kge = finetune_setup
    cfg = FinetuneConfig.from_dict(ablation(finetune_setup).finetune)
    model, tokenizer = load_backbone(cfg, "tokens", KnowledgeGraph.load(kg_dir), kge)
    model.save_pretrained(tmp_path / "run" / "model")  # the layout `kemm pretrain` writes
    tokenizer.save_pretrained(str(tmp_path / "run" / "model"))
    res = _run(
        finetune_setup,
        tmp_path,
        "tokens",
        pretrained={"tokens": str(tmp_path / "run")},
        finetune={**ablation(finetune_setup).finetune, "epochs": 1},
    )
    assert res.info["checkpoint"] == str(tmp_path / "run")
    assert res.info["finetune"]["pretrained"] == str(tmp_path / "run")


def test_task_epochs_and_a_run_that_lost_its_answers_is_trained_again(finetune_setup, tmp_path, caplog):
    one = {**ablation(finetune_setup).finetune, "epochs": 3, "task_epochs": {"csqa": 1, "okvqa": 5}}
    first = _run(finetune_setup, tmp_path, "none", finetune=one)
    assert len(first.info["epoch_losses"]) == 1  # csqa's own number of epochs
    run = tmp_path / "none"
    assert (run / "train" / "checkpoint").exists()  # checkpointed every epoch: a kill resumes
    (run / "metrics.json").unlink()  # killed after training, before the answers were written
    with caplog.at_level("INFO"):
        again = _run(finetune_setup, tmp_path, "none", finetune=one)
    assert "starts again" in caplog.text and again.metrics == first.metrics
