"""Princeton WordNet 3.0 database directory (``data.noun`` ... ``index.adv``, as in ``wndb(5WN)``).

The reader takes the directory that holds ``data.noun``, ``data.verb``, ``data.adj`` and
``data.adv`` (any subset of them; each plain or gzipped, named ``data.noun`` or ``data.noun.gz``)
and, when present, the matching ``index.*`` files. The license header at the top of every file
(lines starting with two spaces) is skipped. Each data line reads::

    synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames...] | gloss

with ``w_cnt`` two hexadecimal digits, ``p_cnt`` three decimal digits, each pointer
``pointer_symbol synset_offset pos source/target`` and, in ``data.verb`` only, ``f_cnt`` followed
by ``+ f_num w_num`` frame triples. The mapping onto the KG:

* **Entities** are synsets, keyed by the Princeton WordNet RDF convention
  ``http://wordnet-rdf.princeton.edu/wn30/{offset:08d}-{pos}`` with ``pos`` one of ``n v a r``
  (satellite adjectives, ``ss_type`` ``s``, are keyed with ``a`` as that convention does).
  The label is the first lemma (``_`` as spaces, adjective markers ``(a)``, ``(p)``, ``(ip)``
  removed); the other lemmas are aliases, and so is the NLTK synset name ``lemma.pos.NN``
  (``dog.n.01``; ``s`` for satellites), where ``NN`` is the 1-based rank of the synset among the
  senses of its first lemma in ``index.<pos>`` (no such alias without index files). The gloss is
  the description; all names are in language ``en``. Two attributes per synset:
  ``wn:lexname`` (lexicographer file, e.g. ``noun.animal``) and ``wn:pos`` (the ``ss_type``).
* **Relations** are the pointer symbols of ``wninput(5WN)``, keyed by a readable name
  (``@`` -> ``hypernym``, ``+`` -> ``derivationally_related_form``, see :data:`POINTERS`),
  labelled with the name in words and with the symbol as an alias. The one symbol whose meaning
  depends on the part of speech, ``\\``, becomes ``pertainym`` in adjective (and noun or verb)
  lines ("pertains to noun") and ``derived_from`` in adverb lines ("derived from adjective"):
  two relations, because the two are different relations between different kinds of synset.
* **Triples**: every pointer is one triple, source synset -> target synset, in the direction
  WordNet stores it; both directions WordNet lists are kept (``hypernym`` and ``hyponym``).
  Lexical pointers (``source/target`` other than ``0000``, which relate single words) are lifted
  to their synsets, as WN18RR does; their number is ``extra["lexical_pointers"]``. Pointers into a
  part of speech whose data file is absent are dropped and counted in
  ``extra["pointers_to_missing_files"]``.

A malformed line or an unknown pointer symbol is reported through the :class:`ErrorPolicy` with
file and line (a bad pointer drops only that pointer). A ``synset_offset`` that differs from the
line's byte offset is not an error (the key is taken from the line as written) but is counted in
``extra["offset_mismatches"]`` and logged.
"""

from __future__ import annotations

import array
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kemm.kg.builder import KGBuilder, SourceRecord
from kemm.kg.readers.base import READERS, ErrorPolicy, ProgressFn, Reader
from kemm.utils.io import open_binary

logger = logging.getLogger(__name__)

#: Prefix of the synset keys (Princeton WordNet RDF, WordNet 3.0).
SYNSET_IRI = "http://wordnet-rdf.princeton.edu/wn30/"

#: Attribute predicates written for every synset.
LEXNAME_PREDICATE = "wn:lexname"
POS_PREDICATE = "wn:pos"

#: The four parts of speech: file suffix and the ``pos`` letter of their synsets (``s`` aside).
POS_FILES: tuple[tuple[str, str], ...] = (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r"))

#: ``ss_type`` values allowed in each data file.
SS_TYPES = {"noun": frozenset("n"), "verb": frozenset("v"), "adj": frozenset("as"), "adv": frozenset("r")}

#: Lexicographer file names by ``lex_filenum`` (``lexnames(5WN)``).
LEXNAMES: tuple[str, ...] = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)


@dataclass(frozen=True)
class PointerType:
    """One WordNet relation.

    Attributes:
        name: relation key in the KG (``snake_case``); the label is the name with spaces.
        description: what a triple ``(source, name, target)`` states.
    """

    name: str
    description: str


#: Pointer symbol -> relation (``wninput(5WN)``); ``\\`` is resolved by part of speech, see
#: :func:`pointer_type`.
POINTERS: dict[str, PointerType] = {
    "!": PointerType("antonym", "the target is opposite in meaning to the source"),
    "@": PointerType("hypernym", "the source is a kind of the target"),
    "@i": PointerType("instance_hypernym", "the source is an instance of the target"),
    "~": PointerType("hyponym", "the target is a kind of the source"),
    "~i": PointerType("instance_hyponym", "the target is an instance of the source"),
    "#m": PointerType("member_holonym", "the source is a member of the target"),
    "#s": PointerType("substance_holonym", "the source is a substance of the target"),
    "#p": PointerType("part_holonym", "the source is a part of the target"),
    "%m": PointerType("member_meronym", "the target is a member of the source"),
    "%s": PointerType("substance_meronym", "the target is a substance of the source"),
    "%p": PointerType("part_meronym", "the target is a part of the source"),
    "=": PointerType("attribute", "a noun for which adjectives express values, and those adjectives"),
    "+": PointerType("derivationally_related_form", "words of source and target are morphologically related"),
    ";c": PointerType("domain_topic", "the source belongs to the topic domain of the target"),
    "-c": PointerType("member_of_domain_topic", "the target belongs to the topic domain of the source"),
    ";r": PointerType("domain_region", "the source belongs to the region domain of the target"),
    "-r": PointerType("member_of_domain_region", "the target belongs to the region domain of the source"),
    ";u": PointerType("domain_usage", "the source belongs to the usage domain of the target"),
    "-u": PointerType("member_of_domain_usage", "the target belongs to the usage domain of the source"),
    "*": PointerType("entailment", "doing the source entails doing the target"),
    ">": PointerType("cause", "the source causes the target"),
    "^": PointerType("also_see", "see also the target"),
    "$": PointerType("verb_group", "verb senses similar in meaning"),
    "&": PointerType("similar_to", "the source (an adjective) is similar in meaning to the target"),
    "<": PointerType("participle_of", "the source adjective is a participle of the target verb"),
    "\\": PointerType("pertainym", "the source adjective pertains to the target noun"),
}

#: ``\\`` in ``data.adv``: the adverb is derived from the adjective.
DERIVED_FROM = PointerType("derived_from", "the source adverb is derived from the target adjective")

_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def pointer_type(symbol: str, file_pos: str) -> PointerType | None:
    """Relation of pointer ``symbol`` in the data file of ``file_pos`` (``noun`` ... ``adv``)."""
    if symbol == "\\" and file_pos == "adv":
        return DERIVED_FROM
    return POINTERS.get(symbol)


def synset_key(offset: str, pos: str) -> str:
    """Entity key of a synset: ``synset_key("02084071", "n")`` -> ``.../wn30/02084071-n`` (``s`` -> ``a``)."""
    return f"{SYNSET_IRI}{offset}-{'a' if pos == 's' else pos}"


def strip_marker(lemma: str) -> str:
    """``"galore(ip)"`` -> ``"galore"``: drop the syntactic marker of an adjective lemma."""
    return _ADJ_MARKER.sub("", lemma)


def lemma_text(lemma: str) -> str:
    """Readable form of a lemma as written in a data file: marker removed, ``_`` as spaces."""
    return strip_marker(lemma).replace("_", " ")


def find_file(directory: Path, name: str) -> Path | None:
    """``directory/name`` or ``directory/name.gz``, whichever exists first; ``None`` if neither."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class _Malformed(Exception):
    """A data or index line that does not follow ``wndb(5WN)``; the message says what is wrong."""


@dataclass
class Synset:
    """One parsed data line.

    Attributes:
        offset: ``synset_offset`` as written (8 decimal digits).
        lex_filenum: index into :data:`LEXNAMES`.
        ss_type: ``n``, ``v``, ``a``, ``s`` or ``r``.
        lemmas: the words, as written (``_`` for spaces, adjective markers kept).
        pointers: ``(symbol, target offset, target pos, source/target)`` per pointer.
        gloss: text after ``|`` (definition and examples), stripped.
    """

    offset: str
    lex_filenum: int
    ss_type: str
    lemmas: list[str]
    pointers: list[tuple[str, str, str, str]]
    gloss: str


def _digits(token: str, n: int, what: str, base: int = 10) -> int:
    valid = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    if len(token) != n or any(c not in valid for c in token):
        kind = "hexadecimal" if base == 16 else "decimal"
        raise _Malformed(f"{what} must be {n} {kind} digits, got {token!r}")
    return int(token, base)


def parse_data_line(line: str, file_pos: str) -> Synset:
    """Parse one data line of ``data.<file_pos>``; raises :class:`_Malformed` with the reason."""
    body, bar, gloss = line.partition("|")
    if not bar:
        raise _Malformed("no '|' before the gloss")
    tok = body.split()
    n = len(tok)
    if n < 6:
        raise _Malformed("too few fields: expected 'offset lex_filenum ss_type w_cnt word lex_id ... p_cnt'")
    offset = tok[0]
    _digits(offset, 8, "synset_offset")
    lex_filenum = _digits(tok[1], 2, "lex_filenum")
    if lex_filenum >= len(LEXNAMES):
        raise _Malformed(f"lex_filenum {lex_filenum} is not a lexicographer file (0..{len(LEXNAMES) - 1})")
    ss_type = tok[2]
    if ss_type not in SS_TYPES[file_pos]:
        raise _Malformed(f"ss_type {ss_type!r} does not belong in data.{file_pos}")
    w_cnt = _digits(tok[3], 2, "w_cnt", base=16)
    if w_cnt == 0:
        raise _Malformed("w_cnt is 0: a synset needs at least one word")
    i = 4 + 2 * w_cnt
    if i >= n:
        raise _Malformed(f"w_cnt says {w_cnt} words but the line ends before p_cnt")
    lemmas = tok[4:i:2]
    p_cnt = _digits(tok[i], 3, "p_cnt")
    i += 1
    if i + 4 * p_cnt > n:
        raise _Malformed(f"p_cnt says {p_cnt} pointers but the line has fields for {(n - i) // 4}")
    pointers = []
    for j in range(i, i + 4 * p_cnt, 4):
        symbol, target, pos, st = tok[j], tok[j + 1], tok[j + 2], tok[j + 3]
        _digits(target, 8, "pointer synset_offset")
        if pos not in ("n", "v", "a", "s", "r"):
            raise _Malformed(f"pointer pos {pos!r} is not one of n v a s r")
        _digits(st, 4, "pointer source/target", base=16)
        pointers.append((symbol, target, pos, st))
    i += 4 * p_cnt
    if file_pos == "verb":
        if i >= n:
            raise _Malformed("a verb synset needs f_cnt (and its frames) before the '|'")
        f_cnt = _digits(tok[i], 2, "f_cnt")
        i += 1
        if n - i != 3 * f_cnt:
            raise _Malformed(f"f_cnt says {f_cnt} frames but {n - i} fields follow (3 per frame)")
        for j in range(i, n, 3):
            if tok[j] != "+":
                raise _Malformed(f"a verb frame starts with '+', got {tok[j]!r}")
            _digits(tok[j + 1], 2, "f_num")
            _digits(tok[j + 2], 2, "w_num", base=16)
    elif i != n:
        raise _Malformed(f"{n - i} unexpected fields after the pointers")
    return Synset(offset, lex_filenum, ss_type, lemmas, pointers, gloss.strip())


def _rank(offsets: list[str] | None, offset: str) -> int:
    """1-based position of ``offset`` in a lemma's sense list; 0 when it is not there."""
    if offsets is None:
        return 0
    try:
        return offsets.index(offset) + 1
    except ValueError:
        return 0


def _lines(stream: IO[bytes]):
    """``(byte offset, line)`` pairs of a binary stream, the offset counted in decompressed bytes."""
    pos = 0
    for line in stream:
        yield pos, line
        pos += len(line)


@READERS.register("wordnet", aliases=("wn",))
class WordNetReader(Reader):
    """A WordNet 3.0 database directory (``data.*`` and optionally ``index.*``, plain or gzipped)."""

    name = "wordnet"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return path.is_dir() and any(find_file(path, f"data.{p}") is not None for p, _ in POS_FILES)

    def read(
        self, path: Path, builder: KGBuilder, errors: ErrorPolicy, progress: ProgressFn | None = None
    ) -> SourceRecord:
        record = SourceRecord(
            str(path),
            self.name,
            extra={
                "synsets": {},
                "pointers": 0,
                "lexical_pointers": 0,
                "pointers_to_missing_files": 0,
                "offset_mismatches": 0,
                "nltk_names": 0,
                "data_files": [],
                "index_files": [],
            },
        )
        if not path.is_dir():
            errors.error("a WordNet source is the directory holding data.noun, data.verb, ...", path)
            return record
        data_files = {fp: f for fp, _ in POS_FILES if (f := find_file(path, f"data.{fp}")) is not None}
        if not data_files:
            errors.error(
                "directory has no WordNet data file (data.noun, data.verb, data.adj, data.adv)", path
            )
            return record
        index_files = {fp: f for fp in data_files if (f := find_file(path, f"index.{fp}")) is not None}
        done = 0  # bytes on disk of the files read so far: progress runs over all files

        def step(offset: int) -> ProgressFn | None:
            return (lambda n: progress(offset + n)) if progress is not None else None

        senses: dict[str, dict[str, list[str]]] = {}
        for fp, f in index_files.items():
            senses[fp] = self._read_index(f, errors, step(done))
            record.extra["index_files"].append(f.name)
            done += f.stat().st_size
        present = {letter for fp, letter in POS_FILES if fp in data_files}
        if "a" in present:
            present.add("s")
        for fp, f in data_files.items():
            self._read_data(f, fp, builder, errors, record, senses.get(fp), present, step(done))
            record.extra["data_files"].append(f.name)
            done += f.stat().st_size
        if progress is not None:
            progress(done)
        missing = [fp for fp, _ in POS_FILES if fp not in data_files]
        if missing:
            logger.info(
                "%s: no data file for %s; %d pointers into them dropped",
                path,
                ", ".join(missing),
                record.extra["pointers_to_missing_files"],
            )
        if data_files.keys() - index_files.keys():
            logger.info(
                "%s: no index file for %s; no NLTK synset names for those",
                path,
                ", ".join(sorted(data_files.keys() - index_files.keys())),
            )
        return record

    # -- index.<pos> --------------------------------------------------------------------------
    @staticmethod
    def _read_index(
        path: Path, errors: ErrorPolicy, progress: ProgressFn | None, tagged: dict[str, int] | None = None
    ) -> dict[str, list[str]]:
        """lemma (lower case, ``_`` for spaces) -> its synset offsets in sense order.

        ``tagged``, when given, receives each lemma's ``tagsense_cnt``.
        """
        senses: dict[str, list[str]] = {}
        stream, raw = open_binary(path)
        lineno = 0
        try:
            for _, bline in _lines(stream):
                lineno += 1
                if bline.startswith(b"  ") or not bline.strip():
                    continue
                line = bline.decode("utf-8", errors="replace").rstrip("\r\n")
                tok = line.split()
                try:
                    if len(tok) < 6:
                        raise _Malformed("too few fields: expected 'lemma pos synset_cnt p_cnt ... offsets'")
                    synset_cnt = int(tok[2])
                    p_cnt = int(tok[3])
                    if synset_cnt < 1 or len(tok) != 6 + p_cnt + synset_cnt:
                        raise _Malformed(
                            f"synset_cnt {synset_cnt} and p_cnt {p_cnt} do not match the {len(tok)} fields"
                        )
                    offsets = tok[len(tok) - synset_cnt :]
                    for o in offsets:
                        _digits(o, 8, "synset_offset")
                    tagsense_cnt = int(tok[5 + p_cnt])
                except (_Malformed, ValueError) as e:
                    errors.error(f"malformed index line: {e}", path, lineno, line)
                    continue
                senses[tok[0].lower()] = offsets
                if tagged is not None:
                    tagged[tok[0].lower()] = tagsense_cnt
                if progress is not None and lineno % 16384 == 0:
                    progress(raw.tell())
        except (OSError, EOFError, zlib.error) as e:
            errors.error(
                f"broken compressed stream ({e}); lines after this one were not read", path, lineno + 1
            )
        finally:
            stream.close()
            raw.close()
        return senses

    # -- data.<pos> ---------------------------------------------------------------------------
    def _read_data(
        self,
        path: Path,
        file_pos: str,
        builder: KGBuilder,
        errors: ErrorPolicy,
        record: SourceRecord,
        senses: dict[str, list[str]] | None,
        present: set[str],
        progress: ProgressFn | None,
    ) -> None:
        ents, rels = builder.entities, builder.relations
        ent_ids, rel_ids = ents.ids, rels.ids
        relation_of: dict[str, int] = {}  # pointer symbol -> relation id, for this file
        h = array.array("q")
        r = array.array("q")
        t = array.array("q")
        n_synsets = n_pointers = n_lexical = n_missing = n_mismatch = n_nltk = 0
        stream, raw = open_binary(path)
        lineno = 0
        try:
            for pos, bline in _lines(stream):
                lineno += 1
                if bline.startswith(b"  ") or not bline.strip():
                    continue
                try:
                    line = bline.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    errors.error(
                        f"not UTF-8 ({e.reason})", path, lineno, bline.decode("latin-1").rstrip("\r\n")
                    )
                    continue
                try:
                    syn = parse_data_line(line, file_pos)
                except _Malformed as e:
                    errors.error(f"malformed data line: {e}", path, lineno, line)
                    continue
                if int(syn.offset) != pos:
                    n_mismatch += 1
                head = ent_ids[synset_key(syn.offset, syn.ss_type)]
                n_synsets += 1
                ents.add_label(head, lemma_text(syn.lemmas[0]), "en")
                for lemma in syn.lemmas[1:]:
                    ents.add_alias(head, lemma_text(lemma), "en")
                if senses is not None:
                    first = strip_marker(syn.lemmas[0]).lower()
                    rank = _rank(senses.get(first), syn.offset)
                    if rank:
                        ents.add_alias(head, f"{first}.{syn.ss_type}.{rank:02d}", "en")
                        n_nltk += 1
                if syn.gloss:
                    ents.add_description(head, syn.gloss, "en")
                builder.add_attribute(head, LEXNAME_PREDICATE, LEXNAMES[syn.lex_filenum])
                builder.add_attribute(head, POS_PREDICATE, syn.ss_type)
                record.attributes += 2
                for symbol, target, tpos, st in syn.pointers:
                    rel = relation_of.get(symbol)
                    if rel is None:
                        ptype = pointer_type(symbol, file_pos)
                        if ptype is None:
                            errors.error(
                                f"unknown pointer symbol {symbol!r} (see wninput(5WN)); pointer dropped",
                                path,
                                lineno,
                                line,
                            )
                            continue
                        rel = relation_of[symbol] = rel_ids[ptype.name]
                        rels.add_label(rel, ptype.name.replace("_", " "), "en")
                        rels.add_alias(rel, symbol, "")
                        rels.add_description(rel, ptype.description, "en")
                    n_pointers += 1
                    if st != "0000":
                        n_lexical += 1
                    if tpos not in present:
                        n_missing += 1
                        continue
                    h.append(head)
                    r.append(rel)
                    t.append(ent_ids[synset_key(target, tpos)])
                if progress is not None and lineno % 8192 == 0:
                    progress(raw.tell())
        except (OSError, EOFError, zlib.error) as e:
            errors.error(
                f"broken compressed stream ({e}); lines after this one were not read", path, lineno + 1
            )
        finally:
            stream.close()
            raw.close()
        record.triples += builder.add_triples(h, r, t)
        extra = record.extra
        extra["synsets"][file_pos] = n_synsets
        extra["pointers"] += n_pointers
        extra["lexical_pointers"] += n_lexical
        extra["pointers_to_missing_files"] += n_missing
        extra["offset_mismatches"] += n_mismatch
        extra["nltk_names"] += n_nltk
        if n_mismatch:
            logger.warning(
                "%s: %d synset offsets differ from the byte offset of their line", path, n_mismatch
            )
        logger.debug("%s: %d synsets, %d pointers (%d lexical)", path, n_synsets, n_pointers, n_lexical)


def read_index(path: str | Path, errors: ErrorPolicy | None = None) -> dict[str, tuple[list[str], int]]:
    """One ``index.<pos>`` file (plain or gzipped): lemma -> (synset offsets, ``tagsense_cnt``).

    Lemmas are lower case with ``_`` for spaces; offsets come most frequent sense first, and the
    first ``tagsense_cnt`` of them were seen in the sense-tagged corpus. Bad lines go to ``errors``
    (default: raise :class:`~kemm.errors.InputError` naming file and line).
    """
    tagged: dict[str, int] = {}
    senses = WordNetReader._read_index(Path(path), errors or ErrorPolicy(), None, tagged)
    return {lemma: (offsets, tagged[lemma]) for lemma, offsets in senses.items()}
