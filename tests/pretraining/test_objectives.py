"""Every registered objective has a test module with an :class:`ObjectiveTestCase`."""

import tests.pretraining
from kemm.pretraining.objectives import OBJECTIVES
from tests.meta import assert_every_part_tested, case_names
from tests.pretraining.cases import ObjectiveTestCase


def test_every_objective_has_a_test():
    assert_every_part_tested(OBJECTIVES, case_names(tests.pretraining, ObjectiveTestCase))


def test_unknown_option_is_named():
    import pytest

    from kemm.errors import InputError
    from kemm.pretraining.objectives import build_objective
    from tests.pretraining.cases import host

    with pytest.raises(InputError, match="did you mean 'temperature'"):
        build_objective("itc", {"temperatur": 0.1}, host())
