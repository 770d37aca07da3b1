"""Every shipped pre-training config loads, and each knowledge config has its ``fusion: none`` twin."""

from pathlib import Path

import pytest

from kemm.config import load_yaml
from kemm.pretraining.config import PretrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"
NAMES = ["tiny", "small", "base"]


@pytest.mark.parametrize("name", NAMES)
def test_config_and_its_baseline_twin(name):
    cfg = PretrainConfig.from_dict(load_yaml(CONFIGS / f"{name}.yaml"), CONFIGS / f"{name}.yaml")
    twin = PretrainConfig.from_dict(load_yaml(CONFIGS / f"{name}_none.yaml"))
    assert cfg.model["fusion"] != "none" and twin.model["fusion"] == "none"
    a, b = cfg.to_dict(), twin.to_dict()
    a["model"].pop("fusion")
    b["model"].pop("fusion")
    assert a == b  # the twin differs in the fusion module only


def test_no_other_configs():
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(NAMES + [f"{n}_none" for n in NAMES])
