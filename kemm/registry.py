"""One registry mechanism for every pluggable part of kemm.

A component registers itself with a decorator; lookup ignores case, ``-`` and ``_``; registering
the same normalised name twice raises.

>>> READERS = Registry("reader")
>>> @READERS.register("n-triples", aliases=("nt",))
... class NTriplesReader: ...
>>> READERS.get("N_Triples") is NTriplesReader
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from kemm.errors import KemmError

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """Lower-case ``name`` and drop ``-``, ``_`` and spaces: ``"Trans-E"`` -> ``"transe"``."""
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


class Registry(Generic[T]):
    """A name -> component map with forgiving lookup and strict registration."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._canonical: dict[str, str] = {}  # normalised name -> name as registered

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            keys = dict.fromkeys(normalize_name(n) for n in (name, *aliases))
            for key in keys:
                if key in self._items:
                    raise KemmError(
                        f"{self.kind} {key!r} is already registered (as {self._canonical[key]!r})"
                    )
                self._items[key] = obj
                self._canonical[key] = name
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[normalize_name(name)]
        except KeyError:
            raise KemmError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._items

    def names(self) -> list[str]:
        """Registered names as written at registration, without aliases, sorted."""
        return sorted(set(self._canonical.values()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
