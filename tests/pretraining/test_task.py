import dataclasses

import pytest
import torch

from kemm.models.knowledge import KnowledgeBatch
from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.objectives import OBJECTIVES, build_objective
from kemm.pretraining.objectives.mlm import MaskedLanguageModelling
from kemm.pretraining.run import pretrain
from kemm.pretraining.task import PretrainModel, PretrainTask
from kemm.training import TrainingDivergedError
from tests.pretraining.cases import host, tiny_batch, tiny_model


def _task(names=("itc", "itm", "mlm", "masked-objects", "entity-denoising", "link-prediction"), **weights):
    backbone = tiny_model()
    objs = {n: build_objective(n, {"weight": weights.get(n, 1.0)}, host(backbone)) for n in names}
    model = PretrainModel(backbone, objs)
    return PretrainTask(model, None, None, 4)  # type: ignore[arg-type]


def test_weighted_loss_and_one_log_per_objective():
    task = _task(itm=0.5, mlm=2.0)
    total, logs = task.objective_losses(tiny_batch(), torch.Generator().manual_seed(0), torch.device("cpu"))
    names = {k[5:] for k in logs if k.startswith("loss/")}
    assert names == set(OBJECTIVES.names())
    weights = {n: o.weight for n, o in task.objectives.items()}
    expect = sum(weights[n] * logs[f"loss/{n}"] for n in names)
    assert abs(float(total) - expect) < 1e-4


def test_switched_off_objective_is_not_run():
    task = _task(names=("itc", "mlm"))
    task.model.objectives["mlm"].config.enabled = False
    _, logs = task.objective_losses(tiny_batch(), torch.Generator(), torch.device("cpu"))
    assert "loss/mlm" not in logs and "loss/itc" in logs


def test_batch_where_no_caption_links_to_anything():
    b = tiny_batch()
    b = dataclasses.replace(b, knowledge=KnowledgeBatch.empty(b.batch_size))
    task = _task()
    total, logs = task.objective_losses(b, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.isfinite(total)
    assert logs["loss/entity-denoising"] == 0.0 and logs["loss/link-prediction"] == 0.0
    total.backward()  # every parameter still gets a (zero) gradient
    assert all(p.grad is not None for o in task.objectives.values() for p in o.parameters())


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, tiny_cfg, monkeypatch):
    cfg = PretrainConfig.from_dict(tiny_cfg(**{"engine.checkpoint_every_steps": 2, "engine.max_epochs": 1}))
    calls = {"n": 0}
    forward = MaskedLanguageModelling.forward

    def nan_at_four(self, ctx):
        calls["n"] += 1
        out = forward(self, ctx)
        if calls["n"] == 4:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(MaskedLanguageModelling, "forward", nan_at_four)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1, step 4.*optimiser step 2"):
        pretrain(cfg, tmp_path / "run")
    import json

    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["global_step"] == 2


def test_evaluate_run_recomputes_the_validation(tmp_path, tiny_cfg):
    from kemm.pretraining.run import evaluate_run

    cfg = PretrainConfig.from_dict(tiny_cfg(**{"engine.max_epochs": 1}))
    result = pretrain(cfg, tmp_path / "run")
    again = evaluate_run(tmp_path / "run")
    assert again["valid/t2i_r1"] == result.metrics["valid/t2i_r1"]
    assert "valid/dea_acc_hidden" in again
