"""File helpers: atomic writes, transparent gzip, checksums, TSV escaping, stable safetensors headers."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def open_binary(path: str | Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open ``path`` for reading bytes, decompressing gzip transparently.

    Returns ``(stream, raw)``: read from ``stream``; ``raw.tell()`` is the position in the file on
    disk, which is what a progress bar over the file size needs.
    """
    raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        return stream, raw
    raw.seek(0)
    return raw, raw


def read_head(path: str | Path, n: int = 4096) -> bytes:
    """First ``n`` bytes of ``path`` after gzip decompression (empty on a broken gzip stream)."""
    stream, raw = open_binary(path)
    try:
        return stream.read(n)
    except (OSError, EOFError):
        return b""
    finally:
        stream.close()
        raw.close()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: str | Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _create_temporary(directory: Path, name: str) -> tuple[int, str]:
    """Create a new, empty file ``directory/.name.<random>.tmp`` for writing; ``(descriptor, path)``.

    Unlike :func:`tempfile.mkstemp` (always mode 0600) the file is created with mode 0666, which
    the kernel reduces by the process's umask exactly as for a plain ``open(path, "w")``: the
    renamed file gets the user's normal permissions (0644 under umask 022). The umask is never
    read or changed (``os.umask`` can only be read by setting it, which races with other threads
    creating files), so this is thread-safe and follows a umask changed at any time.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: could not create a temporary file for {name}")


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write ``path`` through a temporary file in the same directory, renamed into place on success.

    A crash leaves either the old file or the new one, never half of either. The file gets the
    permissions of a newly created file under the process's umask (0666 & ~umask), also when it
    replaces an existing one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it in when the block succeeds.

    The directory is created with mode 0777 less the umask (0755 under umask 022), as ``mkdir``
    does (not :func:`tempfile.mkdtemp`, whose 0700 would stay on the renamed directory).

    The temporary directory is a sibling of ``path`` (same filesystem, so the rename is atomic).
    An existing ``path`` is replaced only after the new one is complete; on error the temporary
    directory is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sort_safetensors_header(path: str | Path) -> None:
    """Rewrite the JSON header of the safetensors file ``path`` with its keys sorted, in place.

    The safetensors writer keeps ``metadata`` in a hash map whose order changes from process to
    process, so the same tensors saved by two processes give different bytes; after this they give
    the same. The tensor data and their offsets (relative to the end of the header) are untouched;
    the header keeps its length (padded with spaces, as the format allows) when the sorted one fits.
    """
    path = Path(path)
    with open(path, "rb+") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= n:
            f.seek(8)
            f.write(text.ljust(n, b" "))
            return
        data = f.read()
    size = -(-len(text) // 8) * 8
    with atomic_write(path, mode="wb") as out:
        out.write(struct.pack("<Q", size) + text.ljust(size, b" ") + data)


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def tsv_escape(value: str | None) -> str:
    """Escape a field for a TSV cell (backslash, tab, newline, carriage return)."""
    if value is None:
        return ""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return "".join(_ESCAPES.get(c, c) for c in value)
    return value


def tsv_unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out = io.StringIO()
    it = iter(value)
    for c in it:
        if c == "\\":
            nxt = next(it, "")
            out.write(_UNESCAPES.get(nxt, "\\" + nxt))
        else:
            out.write(c)
    return out.getvalue()
