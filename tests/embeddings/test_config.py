from pathlib import Path

import pytest

from kemm.embeddings.config import TrainConfig
from kemm.errors import InputError

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "kge").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_and_build(path):
    from kemm.embeddings import build_model
    from tests.embeddings.cases import EDGE_TYPES, EDGES

    c = TrainConfig.from_yaml(path)
    build_model(c.model, 12, 3, graph=(EDGES, EDGE_TYPES), **c.model_kwargs)


def test_unknown_key_names_file_line_and_nearest_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: transe\nepoch: 3\n")
    with pytest.raises(InputError, match=r"c.yaml:2: unknown key 'epoch' .*did you mean 'epochs'"):
        TrainConfig.from_yaml(p)


def test_value_of_the_wrong_type_names_key_and_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: transe\nlr: fast\n")
    with pytest.raises(InputError, match=r"c.yaml:2: lr: expected a number, got 'fast'"):
        TrainConfig.from_yaml(p)
