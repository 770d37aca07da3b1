"""Knowledge-VQA fine-tuning on the tiny benchmark: soft targets, the entity pointer, oracle links apart."""

from __future__ import annotations

import json

import pytest

from kemm.evaluation.ablation import FINETUNERS
from kemm.evaluation.answers import AnswerVocabulary
from kemm.evaluation.finetune.vqa import answer_targets, finetune_vqa
from tests.evaluation.finetune.conftest import TINY_FINETUNE, ablation


def _run(setup, tmp_path, fusion, name=None, **finetune):
    cfg = ablation(setup, tasks=["okvqa"], finetune={**TINY_FINETUNE, **finetune})
    _, kg_dir, _, kge = setup
    return finetune_vqa(cfg, "okvqa", fusion, 0, "fact-in-kg", kg_dir, kge, tmp_path / (name or fusion))


def test_registered():
    assert FINETUNERS["okvqa"] is finetune_vqa


def test_answer_targets_are_soft_and_reach_entities():
    from kemm.data import ImageRef, VQAExample

    vocab = AnswerVocabulary.from_examples([VQAExample(1, 1, ImageRef(), "q", ["red"] * 3 + ["blue"])])
    # "red": min(1, 3/3) = 1 on vocabulary 0; "blue" (1/3) on vocabulary 1 and entity 4; "green" unreachable
    t = answer_targets(["red"] * 3 + ["blue"] + ["green"] * 2, vocab, {"blue": [4]})
    assert t.keys() == {0, 1, 2 + 4}
    assert t[0] == pytest.approx(1 / (1 + 2 / 3)) and t[1] == pytest.approx(t[2 + 4])
    assert sum(t.values()) == pytest.approx(1.0)
    assert answer_targets(["green"], vocab, {}) == {}


@pytest.mark.parametrize("fusion", ["none", "tokens"])
def test_finetunes_and_scores(finetune_setup, tmp_path, fusion):
    res = _run(finetune_setup, tmp_path, fusion)
    lines = [json.loads(x) for x in (tmp_path / fusion / "predictions.jsonl").read_text().splitlines()]
    questions = json.loads((finetune_setup[0] / "okvqa" / "OpenEnded_kemm_test_questions.json").read_text())
    assert sorted(p["id"] for p in lines) == sorted(str(q["question_id"]) for q in questions["questions"])
    assert all(isinstance(p["prediction"], str) and p["prediction"] for p in lines)
    assert res.info["links"] == "predicted" and res.info["object_links"] == "none"
    assert res.counts["oov_gold"] >= 0 and res.counts["answer_vocabulary"] > 0
    losses = res.info["epoch_losses"]
    assert len(losses) == 8 and losses[-1] < losses[0]


def test_oracle_links_are_flagged(finetune_setup, tmp_path):
    res = _run(finetune_setup, tmp_path, "tokens", name="oracle", object_links="oracle", epochs=1)
    assert res.info["links"] == "oracle" and res.info["object_links"].startswith("oracle")
    lines = [json.loads(x) for x in (tmp_path / "oracle" / "predictions.jsonl").read_text().splitlines()]
    # the ground-truth objects are linked: every question now has entities
    assert all(p["entities"] for p in lines)


def test_detected_links_come_from_the_picture_detector(finetune_setup, tmp_path):
    res = _run(finetune_setup, tmp_path, "gnn", name="detected", object_links="detected", epochs=1)
    assert res.info["links"] == "predicted" and res.info["object_links"].startswith("detected")
    quality = res.info["detection"]["test"]
    assert set(quality) >= {"entity_precision", "entity_recall", "detections"}
    assert 0.0 <= quality["entity_precision"] <= 1.0 and "train" not in res.info["detection"]
    dets = json.loads((tmp_path / "detected" / "detections_test.json").read_text())
    assert len(dets) == quality["detections"] and all(
        {"image_id", "bbox", "score", "entity"} <= set(d) for d in dets
    )
