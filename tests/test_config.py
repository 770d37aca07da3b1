"""kemm.config: typed config dataclasses from YAML, with one-line errors naming key, file and line."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from kemm.config import from_dict, from_yaml, load_yaml, to_dict
from kemm.errors import InputError


@dataclass
class Inner:
    depth: int = 2


@dataclass
class Outer:
    lr: float = 0.1
    steps: int = 10
    name: str = "x"
    mode: Literal["a", "b"] = "a"
    layers: list[int] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    limit: int | None = None
    flag: bool = False
    inner: Inner = field(default_factory=Inner)


def test_types_are_checked_and_ints_become_floats():
    c = from_dict(Outer, {"lr": 1, "steps": 3, "layers": [1, 2], "limit": None, "inner": {"depth": 4}})
    assert c.lr == 1.0 and isinstance(c.lr, float)
    assert c.inner == Inner(4) and c.layers == [1, 2]
    assert from_dict(Outer, {"lr": "1e-3"}).lr == 1e-3  # YAML 1.1 reads 1e-3 as a string
    assert to_dict(c)["inner"] == {"depth": 4}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"lr": "fast"}, r"lr: expected a number, got 'fast'"),
        ({"steps": 2.5}, r"steps: expected an integer"),
        ({"steps": True}, r"steps: expected an integer"),
        ({"flag": "yes please"}, r"flag: expected true or false"),
        ({"mode": "c"}, r"mode: expected one of 'a', 'b'"),
        ({"layers": [1, "x"]}, r"layers\[1\]: expected an integer, got .x."),
        ({"limit": "many"}, r"limit: expected an integer or null"),
        ({"inner": {"deep": 1}}, r"unknown key inner.'deep'.*did you mean inner.'depth'"),
        ({"stesp": 1}, r"unknown key 'stesp' for Outer; did you mean 'steps'"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(InputError, match=message):
        from_dict(Outer, data, source="c.yaml")


def test_yaml_errors_name_file_and_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("\ufefflr: 0.5\n\nsteps: lots\n")  # a byte-order mark is fine
    assert load_yaml(p).lines == {"lr": 1, "steps": 3}
    with pytest.raises(InputError, match=r"c.yaml:3: steps: expected an integer, got 'lots'"):
        from_yaml(Outer, p)
    p.write_text("lr: [0.5\n")
    with pytest.raises(InputError, match=r"c.yaml:2: invalid YAML"):
        from_yaml(Outer, p)
