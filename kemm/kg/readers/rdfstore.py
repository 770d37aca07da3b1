"""An rdflib store that keeps the order statements were parsed in (imported only with rdflib)."""

from __future__ import annotations

from collections.abc import Iterator

from rdflib.plugins.stores.memory import Memory


class OrderedMemory(Memory):
    """rdflib's in-memory store that also remembers the order statements were first parsed in.

    rdflib's own iteration order follows Python's string hashes, which change from one interpreter
    to the next (``PYTHONHASHSEED``); reading in document order instead is what gives the same
    entity ids on every ingest of the same file.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._order: dict = {}  # (s, p, o) -> None: an ordered set

    def add(self, triple, context, quoted: bool = False) -> None:
        super().add(triple, context, quoted=quoted)
        if not quoted:  # statements inside N3 formulas are not statements of the graph
            self._order.setdefault(triple, None)

    def in_order(self) -> Iterator[tuple]:
        """Every asserted statement once (whatever its graph), in the order it was first parsed."""
        return iter(self._order)
