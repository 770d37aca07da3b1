"""The linker's alias tables, cached next to the KG they were built from.

Building an :class:`~kemm.linking.linker.EntityLinker` reads every label and alias of the KG into an
:class:`~kemm.linking.aliases.AliasTable` and runs the spaCy pipeline over every surface form to get
the token sequences the phrase matchers look for (:class:`~kemm.linking.candidates.Patterns`): on
WordNet (147k forms) that takes about 40 s. Both go to one file::

    KG_DIR/cache/aliases-<key>.npz        the table (CSR over forms) and the tokenised patterns
    KG_DIR/cache/dense-<key>-<enc>.npy    the encoder's vectors of the forms (dense candidates), float32

``key`` hashes what the table and the patterns depend on: the KG's entity and alias files (their
sha256 in ``meta.json``, else the vocabulary itself), the linker fields ``lowercase``,
``use_lemmas``, ``min_alias_chars``, ``wordnet_dir`` (the content of its ``index.*`` files) and
``sense_rank_exponent``, the
pipeline's name and language, and the versions of spaCy and its lookup tables; ``enc`` hashes the
encoder name and ``encoder_max_length``. A changed KG or config gets a new key, so a stale file is
never read (old files stay until deleted). Files are written atomically, as plain ``.npz``/``.npy``
arrays loaded with ``allow_pickle=False``; an unreadable cache file is rebuilt with a warning, and
a KG directory that cannot be written to only costs the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from kemm.kg.graph import KnowledgeGraph
from kemm.kg.readers.wordnet import POS_FILES, find_file
from kemm.linking.aliases import AliasTable
from kemm.linking.candidates import Patterns
from kemm.linking.config import LinkerConfig
from kemm.linking.pipeline import PipelineInfo
from kemm.utils.io import atomic_write, sha256_file

logger = logging.getLogger(__name__)

#: Bumped whenever the layout of the cache files changes.
CACHE_VERSION = 1

#: The KG files an alias table is read from.
KG_FILES = ("entities.tsv", "entity_aliases.tsv")


def kg_fingerprint(kg: KnowledgeGraph) -> str:
    """sha256 of what the alias table reads: the checksums ``meta.json`` lists, else the names."""
    files = kg.meta.get("files", {})
    h = hashlib.sha256()
    if all(name in files for name in KG_FILES):
        for name in KG_FILES:
            h.update(f"{name}={files[name]}\n".encode())
        return h.hexdigest()
    ents = kg.entities
    for i in range(len(ents)):
        h.update(
            f"{ents.keys[i]}\t{ents.labels[i]}\t{ents.label_langs[i] if ents.label_langs else ''}\n".encode()
        )
    for i, text, lang in ents.aliases:
        h.update(f"{i}\t{text}\t{lang}\n".encode())
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def table_key(kg: KnowledgeGraph, config: LinkerConfig, pipeline: PipelineInfo) -> str:
    """The cache key of the alias table and patterns of ``kg`` under ``config`` (16 hex digits)."""
    wordnet = {}
    if config.wordnet_dir is not None:
        directory = Path(config.wordnet_dir)
        for suffix, _ in POS_FILES:
            f = find_file(directory, f"index.{suffix}")
            if f is not None:
                wordnet[f.name] = sha256_file(f)
    fields = {
        "version": CACHE_VERSION,
        "kg": kg_fingerprint(kg),
        "lowercase": config.lowercase,
        "use_lemmas": config.use_lemmas,
        "min_alias_chars": config.min_alias_chars,
        "wordnet": wordnet,
        "sense_rank_exponent": config.sense_rank_exponent if wordnet else None,
        "pipeline": pipeline.name,
        "lang": pipeline.lang,
        "spacy": pipeline.spacy_version,
        "spacy_lookups_data": _version("spacy-lookups-data"),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _pack(strings: list[str]) -> np.ndarray:
    """Strings (none holding a newline) as one UTF-8 byte array."""
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(blob: np.ndarray, count: int) -> list[str]:
    out = blob.tobytes().decode("utf-8").split("\n") if count else []
    if len(out) != count:
        raise ValueError(f"expected {count} strings, found {len(out)}")
    return out


@dataclass
class AliasCache:
    """Where the alias table of one KG under one config is cached, and how to read and write it.

    Attributes:
        directory: ``KG_DIR/cache``.
        key: :func:`table_key`.
    """

    directory: Path
    key: str

    @classmethod
    def for_kg(cls, kg: KnowledgeGraph, config: LinkerConfig, pipeline: PipelineInfo) -> AliasCache | None:
        """The cache of a KG loaded from a directory; None for a KG that lives only in memory."""
        if kg.path is None:
            return None
        return cls(Path(kg.path) / "cache", table_key(kg, config, pipeline))

    @property
    def path(self) -> Path:
        return self.directory / f"aliases-{self.key}.npz"

    def dense_path(self, encoder: str, max_length: int) -> Path:
        enc = hashlib.sha256(f"{encoder}\n{max_length}".encode()).hexdigest()[:8]
        return self.directory / f"dense-{self.key}-{enc}.npy"

    def load(self) -> tuple[AliasTable, Patterns] | None:
        """The cached table and patterns, or None when there is no (readable) cache file."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                if int(z["version"][0]) != CACHE_VERSION or bytes(z["key"]).decode() != self.key:
                    raise ValueError("written for another key or cache version")
                forms = _unpack(z["forms"], len(z["ptr"]) - 1)
                table = AliasTable.from_arrays(
                    forms,
                    z["ptr"],
                    z["ids"],
                    z["weights"],
                    int(z["num_entities"][0]),
                    bytes(z["lang"]).decode(),
                )
                n = len(z["pat_form"])
                patterns = Patterns(
                    form=z["pat_form"].astype(np.int64),
                    tokens=_unpack(z["pat_tokens"], n),
                    norms=_unpack(z["pat_norms"], n),
                    variant=z["pat_variant"].astype(bool),
                )
        except (OSError, KeyError, ValueError, IndexError, UnicodeDecodeError) as e:
            logger.warning("%s: unreadable alias cache (%s); rebuilding it", self.path, e)
            return None
        logger.info("alias table: %d surface forms read from %s", len(table), self.path)
        return table, patterns

    def save(self, table: AliasTable, patterns: Patterns) -> None:
        """Write the table and patterns atomically; a KG directory that is not writable is logged."""
        arrays: dict[str, np.ndarray] = {
            "version": np.array([CACHE_VERSION], dtype=np.int64),
            "key": np.frombuffer(self.key.encode(), dtype=np.uint8),
            "forms": _pack(list(table.forms)),
            **table.to_arrays(),
            "num_entities": np.array([table.num_entities], dtype=np.int64),
            "lang": np.frombuffer(table.lang.encode(), dtype=np.uint8),
            "pat_form": patterns.form.astype(np.int64),
            "pat_tokens": _pack(patterns.tokens),
            "pat_norms": _pack(patterns.norms),
            "pat_variant": patterns.variant.astype(bool),
        }
        try:
            with atomic_write(self.path, mode="wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle here
        except OSError as e:
            logger.warning(
                "cannot write the alias cache %s (%s); the next start builds it again", self.path, e
            )
            return
        logger.info("alias table cached in %s", self.path)


def load_vectors(path: Path, rows: int, dim: int) -> np.ndarray | None:
    """Cached form vectors of shape ``(rows, dim)``, or None when absent or of another shape."""
    if not path.is_file():
        return None
    try:
        vecs = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        logger.warning("%s: unreadable vector cache (%s); encoding again", path, e)
        return None
    if vecs.shape != (rows, dim) or vecs.dtype != np.float32:
        logger.warning(
            "%s: vectors of shape %s, expected (%d, %d); encoding again", path, vecs.shape, rows, dim
        )
        return None
    logger.info("dense index: %d vectors read from %s", rows, path)
    return vecs


def save_vectors(path: Path, vecs: np.ndarray) -> None:
    """Write form vectors (float32) atomically; an unwritable directory is logged."""
    try:
        with atomic_write(path, mode="wb") as f:
            np.save(f, np.ascontiguousarray(vecs, dtype=np.float32), allow_pickle=False)
    except OSError as e:
        logger.warning("cannot write the vector cache %s (%s)", path, e)
