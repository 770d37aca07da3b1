"""Typed configs from YAML: one loader for every config dataclass in kemm.

A YAML file in ``configs/`` holds exactly the keyword arguments of one entry function, i.e. the
fields of one config dataclass. :func:`from_dict` checks a mapping against the dataclass's fields
and their annotations, so that a misspelt key or a value of the wrong type is one line naming
the key, the file (and the line, when loaded with :func:`load_yaml`) and, for a key, the nearest
valid one:

    configs/kge/transe.yaml:4: lr: expected a number, got 'fast' (str)
    configs/kge/transe.yaml:7: unknown key 'epoch'; did you mean 'epochs'? allowed: ...

Supported annotations: ``int``, ``float`` (ints accepted), ``bool``, ``str``, ``X | None``,
``Literal[...]``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, nested config dataclasses and
``Any``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, cast

import yaml

from kemm.errors import InputError, KemmError
from kemm.registry import nearest

C = TypeVar("C")


class YAMLConfig(dict):
    """A mapping read from YAML that remembers its file and the line of each top-level key."""

    path: Path | None = None
    lines: dict[str, int]

    def __init__(self, data: dict, path: Path | None = None, lines: dict[str, int] | None = None):
        super().__init__(data)
        self.path = path
        self.lines = lines or {}


def load_yaml(path: str | Path) -> YAMLConfig:
    """Read a YAML mapping; errors name the file and line."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not a config file", path)
    if not path.is_file():
        raise KemmError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 text ({e.reason} at byte {e.start}); is it a YAML config?", path
        ) from None
    except OSError as e:
        raise InputError(f"cannot read the config: {e.strerror or e}", path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"invalid YAML: {getattr(e, 'problem', None) or e}", path, line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping of options at the top level", path)
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    return YAMLConfig(data, path, lines)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}.get(
            tp.__name__, tp.__name__
        )
    return str(tp).replace("typing.", "")


class _Mismatch(Exception):
    """``value`` at key path ``where`` is not ``expected``."""

    def __init__(self, expected: str, where: str, value: Any) -> None:
        self.expected, self.where, self.value = expected, where, value


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against annotation ``tp`` (and converted where exact: int -> float)."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except _Mismatch as e:
                errors.append(e.expected)
        raise _Mismatch(
            " or ".join(dict.fromkeys(errors + (["null"] if type(None) in args else []))), where, value
        )
    if origin is Literal:
        if value in args:
            return value
        raise _Mismatch("one of " + ", ".join(repr(a) for a in args), where, value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(f"a list ({_type_name(tp)})", where, value)
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch("a mapping", where, value)
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise _Mismatch(f"a mapping of {tp.__name__} options", where, value)
        return from_dict(tp, value, prefix=f"{where}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch("true or false", where, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch("an integer", where, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise _Mismatch("a number", where, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch("a string", where, value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch(_type_name(tp), where, value)
    return value


def from_dict(
    cls: type[C],
    data: dict[str, Any],
    source: str | Path | None = None,
    *,
    what: str | None = None,
    prefix: str = "",
) -> C:
    """Build config dataclass ``cls`` from ``data``, checking keys and value types.

    Args:
        source: the file ``data`` came from (a :class:`YAMLConfig` carries it, and key lines).
        what: how to name the config in messages (default: the class name).
        prefix: key path of a nested config (``"vision."``).
    """
    if source is None and isinstance(data, YAMLConfig):
        source = data.path
    lines = data.lines if isinstance(data, YAMLConfig) else {}
    if not isinstance(data, dict):
        raise InputError(f"{what or cls.__name__}: expected a mapping of options, got {data!r}", source)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = _hints(cast(type, cls))
    values = {}
    for key, value in data.items():
        if key not in fields:
            best = nearest(str(key), list(fields))
            hint = f"did you mean {prefix}{best!r}? " if best else ""
            raise InputError(
                f"unknown key {prefix}{key!r} for {what or cls.__name__}; {hint}allowed: {', '.join(fields)}",
                source,
                lines.get(str(key)),
            )
        try:
            values[key] = _coerce(value, hints[key], prefix + key)
        except _Mismatch as e:
            raise InputError(
                f"{e.where}: expected {e.expected}, got {e.value!r} ({type(e.value).__name__})",
                source,
                lines.get(str(key)),
            ) from None
        except InputError as e:  # a nested config: locate it at this key's line
            if e.path is None and e.line is None:
                raise InputError(e.message, source, lines.get(str(key))) from None
            raise
    try:
        return cls(**values)
    except (KemmError, ValueError, TypeError) as e:
        if isinstance(e, InputError) and e.path is not None:
            raise
        raise InputError(str(e), source) from None


def from_yaml(cls: type[C], path: str | Path) -> C:
    """Load config dataclass ``cls`` from a YAML file (see :func:`from_dict`)."""
    return from_dict(cls, load_yaml(path))


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON/YAML-ready data (nested dataclasses and tuples included)."""
    return _plain(dataclasses.asdict(config))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x
