"""What every KG reader shares: the registry, the error policy and the reader interface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from kemm.errors import InputError
from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.registry import Registry

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]

#: Called with the number of bytes of the source file consumed so far.
ProgressFn = Callable[[int], None]


@dataclass
class ErrorPolicy:
    """What a reader does with a bad record.

    ``raise`` (default) stops at the first bad record with an :class:`InputError` naming file and
    line. ``skip`` carries on, keeps every skipped record (source, line, reason, raw text) so the
    CLI can count them and write them to ``skipped.tsv``: nothing is dropped silently.
    """

    on_error: OnError = "raise"
    skipped: list[tuple[str, int | None, str, str]] = field(default_factory=list)
    max_skipped: int | None = None

    def error(self, message: str, path: str | Path, line: int | None = None, text: str = "") -> None:
        err = InputError(message, path, line, text or None)
        if self.on_error == "raise":
            raise err
        self.skipped.append((str(path), line, message, text))
        if self.max_skipped is not None and len(self.skipped) > self.max_skipped:
            raise InputError(f"more than {self.max_skipped} bad records; giving up", path, line)
        logger.debug("skipped %s", err)


class Reader:
    """A source format. Subclasses set ``name``/``extensions`` and implement :meth:`read`.

    A reader streams its source into a :class:`KGBuilder` and never holds the raw file in memory
    twice. It reports bad records through the :class:`ErrorPolicy` with file and line.
    """

    #: registry name, as given to ``--format``
    name: ClassVar[str]
    #: file name endings (after stripping ``.gz``) that select this reader in ``--format auto``
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options) -> None:
        self.options = options

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Whether ``path`` (its first decompressed bytes are ``head``) looks like this format."""
        return False

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        raise NotImplementedError


READERS: Registry[type[Reader]] = Registry("KG format")
