"""Exceptions shared by every kemm subpackage."""

from __future__ import annotations

from pathlib import Path


class KemmError(Exception):
    """Base class of every error kemm raises on purpose (bad input, bad configuration)."""


class InputError(KemmError):
    """Bad input, located in a file (and line, when there is one).

    ``str(err)`` reads ``path:line: message`` so that editors and terminals can jump to it.
    """

    def __init__(
        self, message: str, path: str | Path | None = None, line: int | None = None, text: str | None = None
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.text = text
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        excerpt = ""
        if self.text is not None:
            shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
            excerpt = f"\n    {shown!r}"
        return f"{where}{self.message}{excerpt}"


def first_line(e: BaseException) -> str:
    """The first line of ``str(e)`` (or the exception's type name): some libraries' messages
    (transformers' "cannot find the files" ones) take a paragraph, and kemm's errors take one line."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
