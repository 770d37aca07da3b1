"""Run by tests/training/test_distributed.py under ``torchrun --nproc-per-node 2``.

    torchrun --nproc-per-node 2 tests/training/ddp_script.py MODE RUN_DIR [--resume]

MODE ``regression`` trains the tiny regression task, ``kge`` DistMult with sparse tables on the
tiny_split KG. Each rank writes its final weights to ``RUN_DIR/rank{R}.safetensors``. With
``KEMM_TEST_KILL_AT=N`` every rank SIGKILLs itself after optimiser step N (a killed run).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kemm.training import Engine, EngineConfig  # noqa: E402


def main() -> None:
    mode, run_dir = sys.argv[1], Path(sys.argv[2])
    resume = "--resume" in sys.argv
    kill_at = int(os.environ.get("KEMM_TEST_KILL_AT", "0"))
    if mode == "regression":
        from tests.training.regression import Regression

        task = Regression(n=60, batch_size=8)
        config = EngineConfig(
            max_epochs=4, grad_accumulation=2, clip_grad_norm=5.0, tensorboard=False, seed=7
        )
    else:
        from kemm.embeddings import build_model
        from kemm.embeddings.config import TrainConfig
        from kemm.embeddings.training import KGETask, engine_config
        from kemm.kg import ingest
        from tests.conftest import FIXTURES

        kg, _ = ingest([FIXTURES / "tsv" / "tiny_split"])
        train = kg.split("train").astype("int64")
        cfg = TrainConfig(
            model="distmult",
            model_kwargs={"dim": 8, "sparse": True},
            loss="softplus",
            num_negatives=2,
            batch_size=4,
            epochs=4,
            seed=1,
            tensorboard=False,
            lr=0.05,
        )
        torch.manual_seed(cfg.seed)
        task = KGETask(
            build_model("distmult", kg.num_entities, kg.num_relations, dim=8, sparse=True), train, cfg
        )
        config = engine_config(cfg, validating=False)
    if kill_at:
        post_step = task.post_step
        steps = [0]

        def killing_post_step() -> None:
            post_step()
            steps[0] += 1
            if steps[0] >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        task.post_step = killing_post_step  # type: ignore[method-assign]
    Engine(task, config, run_dir, progress=[]).fit(resume=resume)
    rank = int(os.environ["RANK"])
    save_file(
        {k: v.contiguous() for k, v in task.model.state_dict().items()},
        str(run_dir / f"rank{rank}.safetensors"),
    )


if __name__ == "__main__":
    main()
