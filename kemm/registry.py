"""One registry mechanism for every pluggable part of kemm.

A component registers itself with a decorator; lookup ignores case, ``-``, ``_`` and spaces;
registering the same normalised name twice raises. The registered name is written once: the
decorator stores it on the component as ``registered_name``.

Every pluggable argument in kemm accepts a name, a class or an instance, built through
:meth:`Registry.build`, which checks the keyword options against the part's signature (or its
``config_class`` dataclass) and names an unknown key with the nearest valid one.

>>> READERS = Registry("reader")
>>> @READERS.register("n-triples", aliases=("nt",))
... class NTriplesReader: ...
>>> READERS.get("N_Triples") is NTriplesReader
True
>>> NTriplesReader.registered_name
'n-triples'
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from kemm.errors import InputError, KemmError

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """Lower-case ``name`` and drop ``-``, ``_`` and spaces: ``"Trans-E"`` -> ``"transe"``."""
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def nearest(name: str, choices: list[str]) -> str | None:
    """The choice closest to ``name`` (difflib ratio >= 0.6), or None."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _hint(name: str, choices: list[str]) -> str:
    best = nearest(name, choices)
    return f"did you mean {best!r}? " if best is not None else ""


def accepted_keywords(target: Any) -> tuple[list[str], bool]:
    """Keyword options ``target`` takes: ``(names, accepts_any)``.

    A class with a ``config_class`` dataclass takes that dataclass's fields; otherwise the
    parameters of its ``__init__`` (or of the function) that can be passed by keyword.
    ``accepts_any`` is True when the signature has ``**kwargs``.
    """
    config_class = getattr(target, "config_class", None)
    if config_class is not None and dataclasses.is_dataclass(config_class):
        return [f.name for f in dataclasses.fields(config_class) if f.init], False
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature
        return [], True
    names, any_kw = [], False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            any_kw = True
        elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.append(p.name)
    return names, any_kw


def check_kwargs(
    target: Any,
    kwargs: Mapping[str, Any],
    *,
    what: str,
    source: str | Path | None = None,
    reserved: tuple[str, ...] = (),
) -> None:
    """Raise an :class:`InputError` naming the first key of ``kwargs`` that ``target`` does not take.

    Args:
        what: how to name the part in the message (``"loss 'margin'"``).
        source: the file the options came from (named in the message).
        reserved: parameters the caller passes itself (not valid in ``kwargs``).
    """
    names, any_kw = accepted_keywords(target)
    if any_kw:
        return
    valid = [n for n in names if n not in reserved and n != "self"]
    for key in kwargs:
        if key not in valid:
            takes = ", ".join(sorted(valid)) or "no options"
            raise InputError(
                f"unknown option {key!r} for {what}; {_hint(key, valid)}it takes: {takes}", source
            )


class Registry(Generic[T]):
    """A name -> component map with forgiving lookup and strict registration.

    Args:
        kind: what the parts are, for messages (``"loss"``, ``"fusion module"``).
        base: when given, :meth:`build` also accepts instances of this class as they are.
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._items: dict[str, T] = {}
        self._canonical: dict[str, str] = {}  # normalised name -> name as registered

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering a component under ``name`` (and ``aliases``); sets ``registered_name``."""

        def decorator(obj: T) -> T:
            keys = dict.fromkeys(normalize_name(n) for n in (name, *aliases))
            for key in keys:
                if key in self._items:
                    raise KemmError(
                        f"{self.kind} {key!r} is already registered (as {self._canonical[key]!r})"
                    )
            for key in keys:
                self._items[key] = obj
                self._canonical[key] = name
            try:
                obj.registered_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):  # builtins and slotted objects
                pass
            return obj

        return decorator

    def get(self, name: str) -> T:
        """The component registered under ``name`` (case, ``-`` and ``_`` ignored)."""
        if not isinstance(name, str):
            raise KemmError(f"{self.kind} must be given by name, got {type(name).__name__} {name!r}")
        try:
            return self._items[normalize_name(name)]
        except KeyError:
            choices = self.names()
            raise KemmError(
                f"unknown {self.kind} {name!r}; {_hint(name, choices)}choose one of: {', '.join(choices)}"
            ) from None

    def name_of(self, obj: Any) -> str:
        """The registered name of a component, of its class, or of an instance of it."""
        for target in (obj, type(obj)):
            for key, item in self._items.items():
                if item is target:
                    return self._canonical[key]
        raise KemmError(f"{obj!r} is not a registered {self.kind}")

    def build(
        self,
        spec: str | type | Any,
        /,
        *,
        source: str | Path | None = None,
        reserved: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> Any:
        """Build a part from a name, a class or an instance.

        ``spec`` a name: the registered component; a class (or function): called; an instance:
        returned as it is (then ``kwargs`` must be empty). ``kwargs`` are checked first against the
        component's options (see :func:`check_kwargs`), so an unknown key is a one-line error
        naming the key, ``source`` and the nearest valid key.

        Args:
            reserved: parameters the caller passes in ``kwargs`` itself and the user may not set
                (e.g. ``params`` of an optimiser); they are not offered as valid keys.
        """
        if isinstance(spec, str):
            target: Any = self.get(spec)
            label = f"{self.kind} {self._canonical[normalize_name(spec)]!r}"
        elif inspect.isclass(spec) or inspect.isfunction(spec):
            name = getattr(spec, "registered_name", "") or getattr(spec, "__name__", str(spec))
            target, label = spec, f"{self.kind} {name!r}"
        else:
            if self.base is not None and not isinstance(spec, self.base):
                raise KemmError(
                    f"{self.kind} must be a name, a class or a {self.base.__name__}, got {spec!r}"
                )
            if kwargs:
                raise KemmError(f"options {sorted(kwargs)} given with an already built {self.kind} {spec!r}")
            return spec
        user = {k: v for k, v in kwargs.items() if k not in reserved}
        check_kwargs(target, user, what=label, source=source, reserved=reserved)
        config_class = getattr(target, "config_class", None)
        if isinstance(config_class, type) and dataclasses.is_dataclass(config_class):
            from kemm.config import from_dict  # a part with a typed config gets it validated

            config = from_dict(config_class, user, source=source, what=label)
            return target(config=config, **{k: v for k, v in kwargs.items() if k in reserved})
        return target(**kwargs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._items

    def names(self) -> list[str]:
        """Registered names as written at registration, without aliases, sorted."""
        return sorted(set(self._canonical.values()))

    def items(self) -> list[tuple[str, T]]:
        """``(name, component)`` pairs, one per registered name, sorted by name."""
        return [(n, self._items[normalize_name(n)]) for n in self.names()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
