"""Meta-test: every registered model has a generic test case; registry and error behaviour."""

import pytest

import tests.embeddings
from kemm.embeddings import KGE_MODELS, build_model
from kemm.errors import InputError, KemmError
from tests.embeddings.cases import ModelTestCase
from tests.meta import assert_every_part_tested, case_names


def test_every_registered_model_has_a_generic_test():
    assert_every_part_tested(KGE_MODELS, case_names(tests.embeddings, ModelTestCase))


def test_unknown_option_is_named_with_the_nearest_one():
    with pytest.raises(InputError, match=r"unknown option 'dimm' for KGE model 'transe'; did you mean 'dim'"):
        build_model("transe", 3, 1, dimm=4)


def test_option_of_the_wrong_type_is_named():
    with pytest.raises(InputError, match=r"dim: expected an integer, got 'big'"):
        build_model("TransE", 3, 1, dim="big")


def test_gnn_without_graph_is_refused():
    with pytest.raises(KemmError, match="needs the training graph"):
        build_model("rgcn", 3, 1)
