"""Image-text pairs from a folder, a JSON Lines manifest, or WebDataset-style tar shards -> :class:`ImageTextPair`.

- **folder**: image files with a caption in a same-stem ``.txt`` next to each (``dog.jpg`` +
  ``dog.txt``), in sub-folders too.
- **JSONL manifest**: one ``{"image": "relative/path.jpg", "text": "a caption"}`` a line; the keys
  are options, the paths relative to the manifest's folder (or ``images_dir``).
- **WebDataset shards** (``shard-000000.tar``, lists as ``shard-{000000..000009}.tar``): each sample
  is the run of consecutive tar members sharing a key, ``KEY.jpg`` (or ``.png``, ``.webp``) plus
  ``KEY.txt`` or ``KEY.json`` (its ``"caption"`` or ``"text"``); the key is the member path up to
  the first dot of its file name, as WebDataset defines it.

Shards are read with the stdlib :mod:`tarfile` in streaming mode (``"r|*"``: sequential, no seeks,
gzip or plain), which is everything this format needs: a shard is a plain POSIX tar and a sample is
a run of members. The ``webdataset`` package adds a DataLoader pipeline and its own dependencies
(``braceexpand``, ...) that kemm does not need; the brace expansion is the few lines of
:func:`~kemm.data.readers.base.expand_braces`. Image bytes read from a shard stay in the
:class:`ImageRef` (``data``), so decoding later needs no second pass over the tar.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

from kemm.data.examples import ImageRef, ImageTextPair
from kemm.data.readers.base import DATASETS, DatasetReader, expand_braces, get_field, iter_jsonl
from kemm.errors import InputError
from kemm.kg.readers.base import ErrorPolicy

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


@DATASETS.register("image-text-folder", aliases=("folder",))
class ImageTextFolderReader(DatasetReader):
    """A folder of images with same-stem ``.txt`` captions, in sorted path order.

    An image without a caption file, or a caption file without an image, is a bad record.
    ``images_dir`` is ignored (the images are in the folder); ``check_images`` applies.
    """

    name = "image-text-folder"
    example_type = ImageTextPair

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageTextPair]:
        if not path.is_dir():
            raise InputError("not a directory (an image-text folder is a directory)", path)
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        stems_with_image = {p.with_suffix("") for p in files if p.suffix.lower() in IMAGE_EXTENSIONS}
        for f in files:
            suffix = f.suffix.lower()
            if suffix == ".txt" and f.with_suffix("") not in stems_with_image:
                errors.error("caption without an image: no same-stem image file", f)
                continue
            if suffix not in IMAGE_EXTENSIONS:
                continue
            key = f.relative_to(path).with_suffix("").as_posix()
            caption_file = f.with_suffix(".txt")
            if not caption_file.is_file():
                errors.error(f"image without a caption: expected {caption_file.name}", f)
                continue
            text = caption_file.read_text(encoding="utf-8").strip()
            if not text:
                errors.error("empty caption", caption_file)
                continue
            image = ImageRef(path=f, key=f.relative_to(path).as_posix())
            if not self.image_ok(image, errors, f, None, key):
                continue
            yield ImageTextPair(id=key, image=image, text=text, source=self.name)


@DATASETS.register("image-text-jsonl", aliases=("jsonl-manifest",))
class ImageTextManifestReader(DatasetReader):
    """A JSONL manifest of ``{"image": path, "text": caption}`` lines.

    Args:
        image_key: the field holding the image path (default ``"image"``).
        text_key: the field holding the text (default ``"text"``).
        id_key: the field holding the example id; ``None`` or absent: ``"<line number>"``.
        images_dir: the folder image paths are relative to (default: the manifest's folder).
        check_images: see :class:`DatasetReader`.
    """

    name = "image-text-jsonl"
    example_type = ImageTextPair

    def __init__(
        self, image_key: str = "image", text_key: str = "text", id_key: str | None = "id", **common
    ) -> None:
        super().__init__(**common)
        self.image_key, self.text_key, self.id_key = image_key, text_key, id_key

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageTextPair]:
        root = self.images_dir if self.images_dir is not None else path.parent
        for line, rec in iter_jsonl(path, errors):
            image_path = get_field(rec, self.image_key, errors, path, line, "manifest line", str)
            text = get_field(rec, self.text_key, errors, path, line, "manifest line", str)
            if image_path is None or text is None:
                continue
            ex_id = str(rec[self.id_key]) if self.id_key and self.id_key in rec else str(line)
            image = ImageRef(path=root / image_path, key=image_path)
            if not self.image_ok(image, errors, path, line, f"example {ex_id}"):
                continue
            yield ImageTextPair(
                id=ex_id,
                image=image,
                text=text.strip(),
                source=self.name,
                extra={k: v for k, v in rec.items() if k not in (self.image_key, self.text_key, self.id_key)},
            )


def shard_paths(spec: str | Path) -> list[Path]:
    """The shard files ``spec`` names: a tar file, a brace pattern, or a directory of ``*.tar``."""
    p = Path(spec)
    if p.is_dir():
        shards = sorted(q for q in p.iterdir() if q.name.endswith((".tar", ".tar.gz", ".tgz")))
        if not shards:
            raise InputError("no .tar shards in this directory", p)
        return shards
    return [Path(s) for s in expand_braces(str(spec))]


def split_key(member_name: str) -> tuple[str, str]:
    """WebDataset's ``(key, extension)``: ``"a/b/x.seg.png"`` -> ``("a/b/x", "seg.png")``."""
    folder, _, base = member_name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), (ext.lower() if dot else "")


@DATASETS.register("webdataset", aliases=("wds", "tar-shards"))
class WebDatasetReader(DatasetReader):
    """WebDataset-style tar shards of ``KEY.jpg`` + ``KEY.txt``/``KEY.json`` samples, streamed.

    ``path`` is one shard, a brace pattern (``data/shard-{000000..000009}.tar``) or a directory of
    shards.

    Args:
        json_text_keys: fields of ``KEY.json`` that may hold the text, tried in order (a ``KEY.txt``
            wins over ``KEY.json``).
        check_images: ``"decode"`` decodes each image while streaming; the other values only
            require an image member to be present (``images_dir`` is not used).
    """

    name = "webdataset"
    example_type = ImageTextPair

    def __init__(self, json_text_keys: tuple[str, ...] = ("caption", "text"), **common) -> None:
        super().__init__(**common)
        self.json_text_keys = tuple(json_text_keys)

    @classmethod
    def matches(cls, path: Path) -> bool:
        return path.name.endswith((".tar", ".tar.gz", ".tgz")) or ("{" in path.name and ".tar" in path.name)

    def read(self, path: Path, errors: ErrorPolicy) -> Iterator[ImageTextPair]:
        for shard in shard_paths(path):
            if not shard.is_file():
                errors.error("shard not found", shard)
                continue
            yield from self._read_shard(shard, errors)

    def _read_shard(self, shard: Path, errors: ErrorPolicy) -> Iterator[ImageTextPair]:
        key: str | None = None
        members: dict[str, tuple[str, bytes]] = {}  # extension -> (member name, bytes)
        try:
            with tarfile.open(shard, mode="r|*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    k, ext = split_key(member.name)
                    if k != key:
                        if key is not None:
                            yield from self._sample(shard, key, members, errors)
                        key, members = k, {}
                    f = tar.extractfile(member)
                    members[ext] = (member.name, f.read() if f is not None else b"")
        except (tarfile.TarError, OSError, EOFError) as e:
            errors.error(f"cannot read the shard (after sample {key!r}): {e}", shard)
            return
        if key is not None:
            yield from self._sample(shard, key, members, errors)

    def _sample(
        self, shard: Path, key: str, members: dict[str, tuple[str, bytes]], errors: ErrorPolicy
    ) -> Iterator[ImageTextPair]:
        what = f"sample {key}"
        # the image field is KEY.jpg (or .png, ...); KEY.seg.png and the like are other fields
        image_ext = next((e[1:] for e in IMAGE_EXTENSIONS if e[1:] in members), None)
        if image_ext is None:
            errors.error(
                f"{what}: no image member ({key}.jpg/.png/.webp); members: {', '.join(members)}", shard
            )
            return
        text = None
        if "txt" in members:
            text = members["txt"][1].decode("utf-8", errors="replace").strip()
        elif "json" in members:
            try:
                meta = json.loads(members["json"][1])
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                errors.error(f"{what}: {key}.json is not JSON: {e}", shard)
                return
            if isinstance(meta, dict):
                text = next((meta[k] for k in self.json_text_keys if isinstance(meta.get(k), str)), None)
        if not text:
            errors.error(
                f"{what}: no caption ({key}.txt, or {key}.json with one of {', '.join(self.json_text_keys)})",
                shard,
            )
            return
        name, data = members[image_ext]
        image = ImageRef(path=shard, member=name, data=data, key=name)
        if not self.image_ok(image, errors, shard, None, what):
            return
        yield ImageTextPair(
            id=key, image=image, text=text.strip(), source=self.name, extra={"shard": shard.name}
        )
