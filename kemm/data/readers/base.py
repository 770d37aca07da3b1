"""What every dataset reader shares: the registry, the reader interface, JSON/JSONL streaming, image checks.

A dataset reader turns one source (a file, a directory, a shard pattern) into a stream of kemm
example types (:mod:`kemm.data.examples`). Bad records go through the KG readers'
:class:`~kemm.kg.readers.base.ErrorPolicy`: ``on_error="raise"`` stops with an :class:`InputError`
naming file and line (or key), ``"skip"`` logs, counts and keeps every skipped record.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from kemm.data.examples import ImageRef
from kemm.errors import InputError, KemmError
from kemm.kg.readers.base import ErrorPolicy, OnError
from kemm.registry import Registry
from kemm.utils.io import atomic_write, open_binary, tsv_escape

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How much a reader checks the images its records point to: ``none`` (trust the annotations),
#: ``exists`` (the file or tar member is there; one ``stat`` per image) or ``decode`` (PIL decodes
#: every pixel; catches truncated and corrupt files, costs a full decode).
CheckImages = Literal["none", "exists", "decode"]

SKIP_HEADER = ["source", "line", "reason", "text"]


class DatasetReader:
    """A dataset format. Subclasses set ``name``/``example_type`` and implement :meth:`read`.

    Options common to every reader:

    Args:
        images_dir: the folder holding the image files the annotations name. ``None``: image
            references carry only the dataset's file name (``ImageRef.key``) and are not checked.
        check_images: ``"exists"`` (default), ``"decode"`` or ``"none"``; see :data:`CheckImages`.
    """

    #: registry name, as given to :func:`read_dataset`
    name: ClassVar[str]
    #: the kemm example type :meth:`read` yields
    example_type: ClassVar[type]

    def __init__(self, images_dir: str | Path | None = None, check_images: CheckImages = "exists") -> None:
        if check_images not in ("none", "exists", "decode"):
            raise KemmError(f"check_images must be 'none', 'exists' or 'decode', not {check_images!r}")
        self.images_dir = Path(images_dir) if images_dir is not None else None
        self.check_images = check_images

    @classmethod
    def matches(cls, path: Path) -> bool:
        """Whether ``path``'s name says it holds this dataset (used by ``read_dataset("auto", ...)``)."""
        return False

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[Any]:
        raise NotImplementedError

    # helpers for subclasses -----------------------------------------------------------------------

    def image_ref(self, file_name: str) -> ImageRef:
        """The reference to ``file_name`` under :attr:`images_dir` (a bare key when there is none)."""
        if self.images_dir is None:
            return ImageRef(key=file_name)
        return ImageRef(path=self.images_dir / file_name, key=file_name)

    def image_ok(
        self, ref: ImageRef, errors: ErrorPolicy, source: str | Path, line: int | None, what: str
    ) -> bool:
        """Check ``ref`` as :attr:`check_images` says; report a problem (``what`` names the record)."""
        if self.check_images == "none" or (ref.path is None and ref.data is None):
            return True
        if not ref.exists():
            errors.error(f"{what}: image not found: {ref.location}", source, line)
            return False
        if self.check_images == "decode":
            try:
                ref.open(mode=None)
            except InputError as e:
                errors.error(f"{what}: {e}", source, line)
                return False
        return True


DATASETS: Registry[type[DatasetReader]] = Registry("dataset format")


class DatasetStream(Generic[T]):
    """The examples of one source, read lazily; counts what was skipped.

    Iterate it once. ``skipped`` lists ``(source, line, reason, text)`` for every record skipped
    under ``on_error="skip"`` so far; :meth:`write_skipped` writes them as a TSV file.
    """

    def __init__(self, name: str, path: Path, examples: Iterator[T], errors: ErrorPolicy) -> None:
        self.name = name
        self.path = path
        self.errors = errors
        self.count = 0
        self._examples = examples
        self._done = False

    def __iter__(self) -> DatasetStream[T]:
        return self

    def __next__(self) -> T:
        try:
            example = next(self._examples)
        except StopIteration:
            if not self._done:
                self._done = True
                logger.info(
                    "%s (%s): %d examples, %d skipped",
                    self.path,
                    self.name,
                    self.count,
                    len(self.errors.skipped),
                )
            raise
        self.count += 1
        return example

    @property
    def skipped(self) -> list[tuple[str, int | None, str, str]]:
        return self.errors.skipped

    def write_skipped(self, path: str | Path) -> None:
        """Write the skipped records to ``path`` (TSV: source, line, reason, text), atomically."""
        with atomic_write(path) as f:
            f.write("\t".join(SKIP_HEADER) + "\n")
            for row in self.errors.skipped:
                f.write("\t".join(tsv_escape(str(x)) if x is not None else "" for x in row) + "\n")


def detect_dataset(path: str | Path) -> str:
    """Guess the dataset format of ``path`` from its name (``captions_train2017.json`` -> coco-captions)."""
    path = Path(path)
    found = [name for name in DATASETS.names() if DATASETS.get(name).matches(path)]
    if len(found) != 1:
        why = "matches several formats: " + ", ".join(found) if found else "matches no known file name"
        raise InputError(
            f"cannot tell the dataset from the name ({why}); name the format, one of: "
            f"{', '.join(DATASETS.names())}",
            path,
        )
    return found[0]


def read_dataset(
    name_or_format: str,
    path: str | Path,
    on_error: OnError = "raise",
    errors: ErrorPolicy | None = None,
    **options,
) -> DatasetStream:
    """Stream the examples of the dataset at ``path``, read as ``name_or_format``.

    Args:
        name_or_format: a registered name (``"coco-captions"``, ``"vqav2"``, ``"webdataset"``, ...;
            see ``DATASETS.names()``), or ``"auto"`` to go by the file name.
        path: the source: a file, a directory, or (WebDataset) a shard pattern.
        on_error: ``"raise"`` or ``"skip"`` (ignored when ``errors`` is given).
        errors: an :class:`ErrorPolicy` to share between several sources.
        **options: the reader's own options (``images_dir``, ``check_images``, ...).

    Returns:
        a :class:`DatasetStream`: iterate it for the examples; ``.skipped`` for the bad records.
    """
    name = detect_dataset(path) if name_or_format == "auto" else name_or_format
    cls = DATASETS.get(name)
    try:
        reader = cls(**options)
    except TypeError as e:
        raise KemmError(f"{cls.name}: {e}; see help({cls.__module__}.{cls.__name__})") from None
    errors = errors or ErrorPolicy(on_error=on_error)
    src = Path(path) if not isinstance(path, Path) else path
    return DatasetStream(cls.name, src, reader.read(src, errors), errors)


# --------------------------------------------------------------------------------------------------
# JSON and JSONL
# --------------------------------------------------------------------------------------------------


def require_file(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", path)


def load_json(path: str | Path) -> Any:
    """Parse the JSON document ``path`` (gzip or plain); :class:`InputError` with the line on bad JSON."""
    path = Path(path)
    require_file(path)
    stream, raw = open_binary(path)
    try:
        return json.load(io.TextIOWrapper(stream, encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg} (column {e.colno})", path, e.lineno) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8: {e}", path) from None
    finally:
        stream.close()
        raw.close()


def iter_jsonl(path: str | Path, errors: ErrorPolicy) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSON Lines file (gzip or plain).

    A line that is not JSON, or not a JSON object, is reported to ``errors`` and skipped.
    """
    path = Path(path)
    require_file(path)
    stream, raw = open_binary(path)
    try:
        for lineno, raw_line in enumerate(stream, 1):
            try:
                line = raw_line.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                errors.error(f"not UTF-8: {e}", path, lineno, raw_line[:200].decode("latin-1"))
                continue
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                errors.error(f"not JSON: {e.msg} (column {e.colno})", path, lineno, line)
                continue
            if not isinstance(obj, dict):
                errors.error(f"expected a JSON object, found {type(obj).__name__}", path, lineno, line)
                continue
            yield lineno, obj
    finally:
        stream.close()
        raw.close()


def iter_json_array(path: str | Path, chunk_size: int = 1 << 20) -> Iterator[tuple[int, Any]]:
    """Stream the elements of a file holding one top-level JSON array: ``(line, element)``.

    Visual Genome's ``scene_graphs.json`` is ~0.7 GB: this reads it in ``chunk_size`` pieces and
    decodes one element at a time with the stdlib decoder, so memory holds one element, not the
    whole list. ``line`` is where the element starts. Bad JSON raises :class:`InputError` with
    the line (an element cannot be skipped: after a syntax error the array's structure is lost).
    """
    path = Path(path)
    require_file(path)
    decoder = json.JSONDecoder()
    stream, raw = open_binary(path)
    text = io.TextIOWrapper(stream, encoding="utf-8")
    buf, pos, eof = "", 0, False
    counted, line_no = 0, 1  # newlines are counted up to buf[counted], which is on line line_no

    def line_at(i: int) -> int:
        """The line of buf[i], for i >= counted (counting each character once keeps this linear)."""
        nonlocal counted, line_no
        line_no += buf.count("\n", counted, i)
        counted = i
        return line_no

    def fill(min_size: int) -> None:
        nonlocal buf, pos, eof, counted
        line_at(pos)
        buf = buf[pos:]
        pos = counted = 0
        while not eof and len(buf) < min_size:
            more = text.read(max(chunk_size, min_size - len(buf)))
            if not more:
                eof = True
            buf += more

    def skip_ws() -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or eof:
                return
            fill(chunk_size)

    def fail(message: str, at: int) -> None:
        raise InputError(message, path, line_no + buf.count("\n", counted, at))

    try:
        fill(chunk_size)
        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            fail("expected a JSON array", pos)
        pos += 1
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                fail("unexpected end of file inside the top-level array", pos)
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    fail(f"expected ',' or ']' between array elements, found {buf[pos]!r}", pos)
                pos += 1
                skip_ws()
                if pos >= len(buf):
                    fail("unexpected end of file inside the top-level array", pos)
            first = False
            want = chunk_size
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as e:
                    if eof:
                        fail(f"not valid JSON: {e.msg}", e.pos)
                    want = 2 * max(want, len(buf) - pos)  # the element runs past the buffer: read more
                    fill(want)
                    continue
                after = end
                while after < len(buf) and buf[after] in " \t\r\n":
                    after += 1
                if not eof and (after == len(buf) or buf[after] not in ",]"):
                    # what follows is not yet in the buffer: a number may go on ("-0.5" of "-0.5e3")
                    want = 2 * max(want, len(buf) - pos)
                    fill(want)
                    continue
                break
            line = line_at(pos)
            pos = end
            yield line, obj
            if pos > chunk_size:
                fill(chunk_size)
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8: {e}", path) from None
    finally:
        text.close()
        raw.close()


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------

_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def expand_braces(pattern: str) -> list[str]:
    """Expand shell-style braces as WebDataset shard lists use them.

    ``shard-{000000..000002}.tar`` -> ``shard-000000.tar shard-000001.tar shard-000002.tar``
    (zero padding kept); ``{a,b}`` lists alternatives; several groups multiply out.
    """
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    head, body, tail = pattern[: m.start()], m.group(1), pattern[m.end() :]
    r = _RANGE.match(body)
    if r:
        lo, hi = int(r.group(1)), int(r.group(2))
        width = len(r.group(1)) if r.group(1).startswith("0") or len(r.group(1)) == len(r.group(2)) else 0
        step = 1 if hi >= lo else -1
        parts = [str(i).zfill(width) for i in range(lo, hi + step, step)]
    elif "," in body:
        parts = body.split(",")
    else:
        parts = ["{" + body + "}"]  # not a brace expression: keep it literally
        return [head + parts[0] + rest for rest in expand_braces(tail)]
    return [head + p + rest for p in parts for rest in expand_braces(tail)]


def format_image_name(template: str, source: str | Path, **fields: Any) -> str:
    """``template.format(**fields)`` with an error that lists the fields a template may use."""
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(
            f"bad image file name template {template!r} ({e}); it may use: "
            f"{', '.join('{' + k + '}' for k in fields)}",
            source,
        ) from None


def get_field(
    obj: dict,
    key: str,
    errors: ErrorPolicy,
    source: str | Path,
    line: int | None,
    what: str,
    types: type | tuple[type, ...] = object,
) -> Any:
    """``obj[key]``, or report ``what: missing field 'key'`` (or a wrong type) and return None."""
    if key not in obj:
        errors.error(f"{what}: missing field {key!r}", source, line, _excerpt(obj))
        return None
    value = obj[key]
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
        errors.error(
            f"{what}: field {key!r} should be {names}, found {type(value).__name__}",
            source,
            line,
            _excerpt(obj),
        )
        return None
    return value


def _excerpt(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."
