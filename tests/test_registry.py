import pytest

from kemm.errors import KemmError
from kemm.registry import Registry


def test_lookup_ignores_case_dash_underscore():
    reg: Registry[type] = Registry("thing")

    @reg.register("Trans-E", aliases=("transe_l1",))
    class A:
        pass

    assert reg.get("trans_e") is A
    assert reg.get("TRANSEL1") is A
    assert "transe" in reg and "distmult" not in reg
    assert reg.names() == ["Trans-E"]


def test_duplicate_registration_raises():
    reg: Registry[type] = Registry("thing")
    reg.register("a")(int)
    with pytest.raises(KemmError, match="already registered"):
        reg.register("A")(str)


def test_unknown_name_lists_choices():
    reg: Registry[type] = Registry("thing")
    reg.register("alpha")(int)
    with pytest.raises(KemmError, match="alpha"):
        reg.get("beta")
