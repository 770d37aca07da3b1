"""Meta-test: every registered model has a generic test case; registry and error behaviour."""

import importlib
import inspect
import pkgutil

import pytest

import tests.embeddings
from kemm.embeddings import MODELS, build_model
from kemm.errors import KemmError
from kemm.registry import normalize_name
from tests.embeddings.cases import ModelTestCase


def _tested_models() -> set[str]:
    names = set()
    for mod in pkgutil.iter_modules(tests.embeddings.__path__):
        m = importlib.import_module(f"tests.embeddings.{mod.name}")
        for _, obj in inspect.getmembers(m, inspect.isclass):
            if issubclass(obj, ModelTestCase) and obj.name:
                names.add(normalize_name(obj.name))
    return names


def test_every_registered_model_has_a_generic_test():
    missing = {normalize_name(n) for n in MODELS.names()} - _tested_models()
    assert not missing, f"registered models without a ModelTestCase: {sorted(missing)}"


def test_unknown_option_is_named():
    with pytest.raises(KemmError, match="unknown option.*dimension"):
        build_model("transe", 3, 1, dimension=4)


def test_gnn_without_graph_is_refused():
    with pytest.raises(KemmError, match="needs the training graph"):
        build_model("rgcn", 3, 1)
