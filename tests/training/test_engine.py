"""The engine on a tiny regression task: accumulation, clipping, bf16, NaN stop, early stopping, resume."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from kemm.errors import KemmError
from kemm.training import Engine, EngineConfig, ResumeMismatchError, RunFinishedError, TrainingDivergedError
from kemm.training.checkpoint import checkpoint_dir, load_checkpoint
from tests.training.regression import Regression


def fit(task, run_dir=None, resume=False, **kw):
    kw.setdefault("tensorboard", False)
    kw.setdefault("device", "cpu")
    return Engine(task, EngineConfig(**kw), run_dir, progress=[]).fit(resume)


def weights(task):
    return {k: v.detach().clone() for k, v in task.model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_loss_falls_and_history_has_logs():
    res = fit(Regression(), max_epochs=4, validate_every=2)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.global_step == 4 * 8 and res.epochs_run == 4
    assert (
        "abs_error" in res.history[0] and "valid/mse" in res.history[1] and "valid/mse" not in res.history[0]
    )


def test_accumulation_equals_a_big_batch():
    small = Regression(batch_size=8, optimizer="sgd", noise=False)
    big = Regression(batch_size=16, optimizer="sgd", noise=False)
    fit(small, max_epochs=2, grad_accumulation=2, validate_every=0)
    fit(big, max_epochs=2, validate_every=0)
    a, b = weights(small), weights(big)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not same(a, weights(Regression()))  # it trained


def test_clipping_bounds_the_update():
    task = Regression(optimizer="sgd", lr=1.0, noise=False)
    before = weights(task)
    fit(task, max_steps=1, clip_grad_norm=1e-3, validate_every=0)
    after = weights(task)
    step = torch.sqrt(sum(((after[k] - before[k]) ** 2).sum() for k in before))
    assert 0 < step <= 1e-3 * 1.0001


def test_bf16_autocast_on_cpu():
    task = Regression()
    res = fit(task, max_epochs=2, precision="bf16", validate_every=0)
    assert set(task.dtypes) == {torch.bfloat16}
    assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_fp16_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(KemmError, match="fp16 needs CUDA"):
        fit(Regression(), precision="fp16")


def test_nan_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    task = Regression()
    task.fail_at = 20  # epoch 3, step 4 (8 steps an epoch)
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 3, step 4 \(optimiser step 20\).*last good checkpoint"
    ):
        fit(task, tmp_path, max_epochs=5, validate_every=0)
    state, model_state, _, _ = load_checkpoint(checkpoint_dir(tmp_path))
    assert state["global_step"] == 16 and all(torch.isfinite(v).all() for v in model_state.values())
    with pytest.raises(TrainingDivergedError, match="no checkpoint was written yet"):
        bad = Regression()
        bad.fail_at = 1
        fit(bad, max_epochs=1)


class Scripted(Regression):
    """Validation returns a fixed sequence and remembers the weights at each validation."""

    def __init__(self, values):
        super().__init__()
        self.values, self.seen = list(values), []

    def validate(self, ctx):
        self.seen.append(weights(self))
        return {"valid/acc": self.values[len(self.seen) - 1], "valid/other": 0.0}


def test_early_stopping_on_a_named_metric_restores_the_best():
    task = Scripted([0.5, 0.6, 0.55, 0.54, 0.53, 0.9])
    res = fit(task, max_epochs=6, early_stopping_metric="valid/acc", early_stopping_patience=2)
    assert res.stopped_early and res.epochs_run == 4
    assert (res.best_epoch, res.best_metric, res.best_step) == (2, 0.6, 16)
    assert same(weights(task), task.seen[1])
    with pytest.raises(KemmError, match="'valid/acc' is not a validation metric.*valid/mse"):
        fit(Regression(), max_epochs=1, early_stopping_metric="valid/acc")


def test_min_mode_without_patience_keeps_training():
    task = Scripted([3.0, 1.0, 2.0, 2.5])
    res = fit(task, max_epochs=4, early_stopping_metric="valid/acc", early_stopping_mode="min")
    assert not res.stopped_early and res.best_epoch == 2 and same(weights(task), task.seen[1])


class Killed(Exception):
    pass


def test_resume_is_bitwise_from_epoch_and_mid_epoch_checkpoints(tmp_path):
    kw = dict(
        max_epochs=4,
        grad_accumulation=2,
        validate_every=1,
        early_stopping_metric="valid/mse",
        early_stopping_mode="min",
        restore_best=False,
    )
    full = Regression()
    fit(full, tmp_path / "full", **kw)

    part = Regression()
    fit(part, tmp_path / "part", **{**kw, "max_epochs": 2})
    resumed = Regression()
    res = fit(resumed, tmp_path / "part", resume=True, **kw)
    assert same(weights(full), weights(resumed)) and res.global_step == 16

    killed = Regression()
    killed.post_step = lambda: (_ for _ in ()).throw(Killed()) if killed.calls >= 22 else None
    with pytest.raises(Killed):  # dies at optimiser step 11, mid-epoch 3; checkpoint at step 10
        fit(killed, tmp_path / "mid", checkpoint_every_steps=5, **kw)
    state = json.loads((checkpoint_dir(tmp_path / "mid") / "state.json").read_text())
    assert state["global_step"] == 10 and state["state"]["batch_in_epoch"] == 4
    again = Regression()
    fit(again, tmp_path / "mid", resume=True, checkpoint_every_steps=5, **kw)
    assert same(weights(full), weights(again))


def test_resume_refuses_other_settings_and_inputs_and_finished_runs(tmp_path):
    fit(Regression(), tmp_path, max_epochs=2)
    with pytest.raises(
        ResumeMismatchError, match=r"config engine.grad_accumulation: 1 -> 2; config lr: 0.05 -> 0.1"
    ):
        fit(Regression(lr=0.1), tmp_path, resume=True, max_epochs=3, grad_accumulation=2)

    class OtherData(Regression):
        def fingerprint_inputs(self):
            return {"points": "f" * 64}

    with pytest.raises(ResumeMismatchError, match=r"input points: <none> -> ffffffffffff"):
        fit(OtherData(), tmp_path, resume=True, max_epochs=3)
    with pytest.raises(RunFinishedError, match=r"is finished \(2 of 2 epochs done\)"):
        fit(Regression(), tmp_path, resume=True, max_epochs=2)
    with pytest.raises(KemmError, match="already holds a run"):
        fit(Regression(), tmp_path, max_epochs=2)
    with pytest.raises(KemmError, match="nothing to resume"):
        fit(Regression(), tmp_path / "empty", resume=True)
    res = fit(Regression(), tmp_path, resume=True, max_epochs=3)  # more epochs: it continues
    assert res.epochs_run == 3 and len(res.history) == 3


def test_tensorboard_scalars(tmp_path):
    fit(Regression(), tmp_path, max_epochs=1, tensorboard=True)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_plain_progress_lines_during_a_long_step(caplog):
    from kemm.training import PlainProgressLogger

    task = Regression(n=16)
    task.step_seconds = 0.25
    caplog.set_level(logging.INFO, logger="kemm.training.progress")
    Engine(
        task, EngineConfig(max_epochs=1, device="cpu", tensorboard=False), None, PlainProgressLogger(0.1)
    ).fit()
    lines = [r.getMessage() for r in caplog.records if r.name == "kemm.training.progress"]
    assert lines[0].startswith("training: 1 epochs")
    assert any(line.startswith("epoch 1/1 step 1/2 (optimiser step 1)") for line in lines)
    assert any("[next step running 0." in line for line in lines)  # written while a step runs
    assert lines[-1].startswith("finished: 1 epochs, 2 optimiser steps")


def test_max_steps_stops_mid_epoch_and_a_resume_continues_there(tmp_path):
    full = Regression()
    fit(full, tmp_path / "full", max_epochs=2, validate_every=0)
    part = Regression()
    res = fit(part, tmp_path / "part", max_epochs=2, max_steps=5, validate_every=0)
    assert (res.global_step, res.epochs_run, res.history[-1]["partial"]) == (5, 0, True)
    with pytest.raises(RunFinishedError, match="5 of 5 optimiser steps"):
        fit(Regression(), tmp_path / "part", resume=True, max_epochs=2, max_steps=5, validate_every=0)
    again = Regression()
    res = fit(again, tmp_path / "part", resume=True, max_epochs=2, validate_every=0)
    assert same(weights(full), weights(again))
    assert [h["epoch"] for h in res.history] == [1, 2] and res.global_step == 16


def test_every_public_name_of_kemm_training_loads():
    """The package's names load lazily (the resume rule must not import torch); each must resolve."""
    import kemm.training as training

    assert sorted(training.__all__) == sorted(training._EXPORTS)
    for name in training.__all__:
        assert getattr(training, name) is not None
