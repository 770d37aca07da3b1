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


def _parts() -> Registry:
    reg: Registry = Registry("part")

    @reg.register("scaled")
    class Scaled:
        def __init__(self, factor: float = 1.0, bias: float = 0.0) -> None:
            self.factor, self.bias = factor, bias

    return reg


def test_build_from_name_class_or_instance():
    reg = _parts()
    cls = reg.get("scaled")
    assert reg.build("SCALED", factor=2.0).factor == 2.0
    assert reg.build(cls, bias=1.0).bias == 1.0
    obj = cls()
    assert reg.build(obj) is obj
    assert cls.registered_name == "scaled"
    assert reg.name_of(obj) == "scaled"


def test_build_unknown_kwarg_names_key_source_and_nearest():
    reg = _parts()
    with pytest.raises(
        KemmError, match=r"a.yaml: unknown option 'factr' for part 'scaled'; did you mean 'factor'"
    ):
        reg.build("scaled", source="a.yaml", factr=2.0)


def test_build_reserved_kwargs_are_not_user_options():
    reg: Registry = Registry("optimizer")

    @reg.register("plain")
    def plain(params, lr: float = 0.1):
        return params, lr

    assert reg.build("plain", reserved=("params",), params=[1], lr=0.5) == ([1], 0.5)
    with pytest.raises(KemmError, match=r"unknown option 'momentum'.*it takes: lr$"):
        reg.build("plain", reserved=("params",), params=[1], momentum=0.9)
