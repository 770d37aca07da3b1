"""Opening a source file for a reader: gzip decompressed, a UTF-8 byte-order mark skipped.

:class:`Source` differs from :func:`kemm.utils.io.open_binary` in two ways that readers need:

* a UTF-8 byte-order mark (``EF BB BF``, as Windows editors write it) at the start of the text is
  not returned, so the first line parses like any other;
* a gzip stream that breaks (truncated download, corrupt block) returns every byte that
  decompressed before the break, then ends as if the file ended there; :attr:`Source.broken`
  then says why. A reader checks it at the end of the text, drops the unfinished last line and
  reports the break, so that under ``--on-error skip`` the lines before the break are kept.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import IO

from kemm.utils.io import GZIP_MAGIC

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16  # compressed bytes fed to zlib per call
_PROBE = 1 << 9  # after an error, the same bytes again in pieces this small, to keep what precedes it


def strip_bom(head: bytes) -> bytes:
    return head[len(BOM) :] if head.startswith(BOM) else head


class _Gunzip(io.RawIOBase):
    """Decompress a gzip file (several members allowed) incrementally; a break ends the stream.

    After a break, ``error`` holds the reason and reads return ``b""``.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(wbits=31)
        self._fed = False  # bytes of the current gzip member were given to ``_z``
        self._out = memoryview(b"")
        self._end = False
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._out and not self._end:
            self._out = memoryview(self._fill())
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> bytes:
        data = self._raw.read(_CHUNK)
        if not data:
            self._end = True
            if self._fed and not self._z.eof:
                self.error = "compressed file ended before the end-of-stream marker"
            return b""
        out = []
        while data:
            saved = self._z.copy()
            self._fed = True
            try:
                out.append(self._z.decompress(data))
            except zlib.error as e:
                out.append(_salvage(saved, data))
                self.error, self._end = f"corrupt compressed data: {e}", True
                break
            if not self._z.eof:
                break
            data = self._z.unused_data  # the next gzip member (``cat a.gz b.gz``), or padding
            self._z, self._fed = zlib.decompressobj(wbits=31), False
            if data and not data.startswith(GZIP_MAGIC):
                if data.strip(b"\0"):
                    self.error = "trailing garbage after the compressed data"
                self._end = True
                break
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _salvage(z, data: bytes) -> bytes:
    """What ``z`` decompresses from ``data`` before its first error, fed in small pieces."""
    out = []
    for i in range(0, len(data), _PROBE):
        try:
            out.append(z.decompress(data[i : i + _PROBE]))
        except zlib.error:
            break
    return b"".join(out)


class Source:
    """An open source file. Read bytes from ``stream``; ``raw.tell()`` is the position on disk.

    Use as a context manager (closes both).
    """

    def __init__(self, path: str | Path) -> None:
        self.raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._gunzip: _Gunzip | None = None
        if self.raw.read(2) == GZIP_MAGIC:
            self.raw.seek(0)
            self._gunzip = _Gunzip(self.raw)
            self.stream: IO[bytes] = io.BufferedReader(self._gunzip, buffer_size=1 << 16)  # type: ignore[assignment]
        else:
            self.raw.seek(0)
            self.stream = self.raw
        if self.stream.peek(len(BOM))[: len(BOM)] == BOM:  # type: ignore[attr-defined]
            self.stream.read(len(BOM))

    @property
    def broken(self) -> str | None:
        """Why the compressed stream ended early (``None``: not compressed, or intact so far)."""
        return self._gunzip.error if self._gunzip is not None else None

    def close(self) -> None:
        self.stream.close()
        self.raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def broken_message(reason: str) -> str:
    return f"broken compressed stream ({reason}); this line and the lines after it were not read"
