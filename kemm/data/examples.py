"""The example types every kemm training and evaluation loop consumes.

Each dataset reader in :mod:`kemm.data.readers` turns its source format into these dataclasses, so
code downstream never knows whether it reads COCO, Visual Genome, VQAv2 or the bundled benchmark:

==========================  =====================================================================
type                        produced by
==========================  =====================================================================
:class:`ImageTextPair`      COCO captions, image-text folders, JSONL manifests, WebDataset shards
:class:`ImageAnnotations`   COCO instances (ground truth) and COCO detection results
:class:`SceneGraph`         Visual Genome scene graphs
:class:`VQAExample`         VQAv2, OK-VQA, A-OKVQA
:class:`MultipleChoiceExample`  CommonsenseQA, OpenBookQA
:class:`ClozeExample`       LAMA (T-REx, Google-RE, ConceptNet, SQuAD)
==========================  =====================================================================

Images are referenced, not decoded, by :class:`ImageRef`: a reader stays cheap and a training loop
decodes only what it uses. :func:`soft_accuracy` is the official VQA accuracy.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kemm.errors import InputError

if TYPE_CHECKING:
    from PIL import Image

#: The mask token of cloze probes (LAMA's convention, also BERT's).
MASK = "[MASK]"


# --------------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """Where an image is, without decoding it.

    Exactly one of three places:

    - a file: ``path`` set, ``member`` None;
    - a member of a tar shard: ``path`` is the shard, ``member`` the member name (``data`` may hold
      the bytes already read while streaming the shard);
    - bytes in memory: ``data`` set (``path``/``member`` then only say where they came from).

    ``key`` is the image's name inside its dataset (COCO ``file_name``, a tar sample key, ...) and is
    all a reference holds when the dataset was read without an images directory.
    """

    path: Path | None = None
    member: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)
    key: str | None = None

    @property
    def location(self) -> str:
        """A human-readable location for messages: ``dir/a.jpg``, ``shard.tar[KEY.jpg]`` or the key."""
        if self.path is not None and self.member is not None:
            return f"{self.path}[{self.member}]"
        if self.path is not None:
            return str(self.path)
        if self.data is not None:
            return f"<{len(self.data)} bytes{': ' + self.key if self.key else ''}>"
        return f"<{self.key or 'unknown image'}: no images directory given>"

    def exists(self) -> bool:
        """Whether the image bytes can be reached (a file or tar member that exists, or bytes in memory)."""
        if self.data is not None:
            return True
        if self.path is None:
            return False
        if self.member is None:
            return self.path.is_file()
        try:
            with tarfile.open(self.path) as tar:
                tar.getmember(self.member)
            return True
        except (OSError, KeyError, tarfile.TarError):
            return False

    def read_bytes(self) -> bytes:
        """The encoded image bytes; :class:`InputError` naming the location when they cannot be read."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise InputError(
                "image location unknown (the dataset was read without an images directory)",
                self.key or "<image>",
            )
        try:
            if self.member is None:
                return self.path.read_bytes()
            with tarfile.open(self.path) as tar:
                f = tar.extractfile(self.member)
                if f is None:
                    raise InputError("tar member is not a regular file", self.location)
                return f.read()
        except FileNotFoundError:
            raise InputError("image not found", self.location) from None
        except KeyError:
            raise InputError("no such member in the tar shard", self.location) from None
        except (OSError, tarfile.TarError) as e:
            raise InputError(f"cannot read image: {e}", self.location) from None

    def open(self, mode: str | None = "RGB") -> Image.Image:
        """Decode the image fully (so a truncated file fails here, not later in a training step).

        ``mode`` converts the result (``"RGB"`` by default; ``None`` keeps the file's mode). A missing,
        truncated or undecodable image raises :class:`InputError` naming the file.
        """
        from PIL import Image, UnidentifiedImageError

        data = self.read_bytes()
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
            img.load()  # decodes every pixel: truncated files raise OSError here
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise InputError(f"cannot decode image: {e}", self.location) from None
        if mode is not None and img.mode != mode:
            img = img.convert(mode)
        return img


# --------------------------------------------------------------------------------------------------
# boxes and objects
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in COCO convention: top-left corner ``(x, y)``, width ``w``, height ``h``, pixels."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def from_xyxy(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        return cls(x0, y0, x1 - x0, y1 - y0)

    def xyxy(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: corners, as torchvision and most detectors want them."""
        return (self.x, self.y, self.x + self.w, self.y + self.h)

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when either box is empty)."""
        ax0, ay0, ax1, ay1 = self.xyxy()
        bx0, by0, bx1, by1 = other.xyxy()
        inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass
class ObjectAnnotation:
    """One object in an image: a ground-truth annotation, a detection, or a scene-graph node.

    Attributes:
        box: where it is (COCO xywh, pixels).
        label: its name (COCO category name, first Visual Genome name, ...).
        category_id: the dataset's category id (COCO), or None.
        score: detector confidence for detection results; None for ground truth.
        id: the dataset's annotation / object id, or None.
        entity: the key of the KG entity this object denotes, when known (the bundled benchmark's
            categories are KG entities; real datasets get one from entity linking).
        iscrowd: COCO's crowd flag (a region of many instances).
        area: the dataset's own area (COCO: segmentation area), which may differ from ``box.area``.
        names: every name given to the object (Visual Genome lists several).
        attributes: attribute strings (Visual Genome: ``"white"``, ``"wooden"``).
        synsets: WordNet synsets (Visual Genome: ``"dog.n.01"``).
    """

    box: Box
    label: str
    category_id: int | None = None
    score: float | None = None
    id: int | None = None
    entity: str | None = None
    iscrowd: bool = False
    area: float | None = None
    names: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    synsets: list[str] = field(default_factory=list)


@dataclass
class ImageAnnotations:
    """An image with its objects: COCO ground truth or the detections a model made on it.

    Attributes:
        image_id: the dataset's image id.
        image: where the image is.
        width, height: image size in pixels when the source says (None otherwise).
        objects: the objects, in source order.
        source: the dataset it came from (``"coco-instances"``, ``"coco-results"``, ...).
    """

    image_id: int | str
    image: ImageRef
    objects: list[ObjectAnnotation]
    width: int | None = None
    height: int | None = None
    source: str = ""


#: Detection data is image annotations; the name training code for detectors expects.
DetectionExample = ImageAnnotations


@dataclass(frozen=True)
class Relationship:
    """A scene-graph edge ``subject --predicate--> object``; ends are indices into ``SceneGraph.objects``."""

    subject: int
    predicate: str
    object: int
    id: int | None = None
    synsets: tuple[str, ...] = ()


@dataclass
class SceneGraph:
    """An image's objects (with names, attributes, boxes) and the relationships between them."""

    image_id: int | str
    image: ImageRef
    objects: list[ObjectAnnotation]
    relationships: list[Relationship]
    width: int | None = None
    height: int | None = None
    source: str = ""

    def triples(self) -> list[tuple[str, str, str]]:
        """``(subject label, predicate, object label)`` for every relationship."""
        return [
            (self.objects[r.subject].label, r.predicate, self.objects[r.object].label)
            for r in self.relationships
        ]


# --------------------------------------------------------------------------------------------------
# text tasks
# --------------------------------------------------------------------------------------------------


@dataclass
class ImageTextPair:
    """An image and one text about it (a caption, alt-text, ...)."""

    id: str
    image: ImageRef
    text: str
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VQAExample:
    """A visual question with every human answer (for soft accuracy).

    Attributes:
        question_id: the dataset's question id (int for VQAv2/OK-VQA, str for A-OKVQA).
        image_id: the COCO image id.
        image: where the image is.
        question: the question text.
        answers: every human answer, repeats kept (10 for VQAv2/OK-VQA; A-OKVQA's direct answers);
            empty for test splits without annotations.
        multiple_choice_answer: VQAv2's most common answer, or None.
        answer_type, question_type: VQAv2 answer type (``yes/no``, ``number``, ``other``) and
            question type (``"what color is the"``; OK-VQA: its knowledge category).
        choices: multiple-choice options (A-OKVQA), empty when none.
        correct_choice: index of the right option in ``choices``, or None (none given or unlabeled).
        rationales: human explanations of the answer (A-OKVQA), empty when none.
        source: the dataset it came from.
        extra: dataset-specific fields kept verbatim (answer confidences, OK-VQA raw answers, ...).
    """

    question_id: int | str
    image_id: int | str
    image: ImageRef
    question: str
    answers: list[str] = field(default_factory=list)
    multiple_choice_answer: str | None = None
    answer_type: str | None = None
    question_type: str | None = None
    choices: list[str] = field(default_factory=list)
    correct_choice: int | None = None
    rationales: list[str] = field(default_factory=list)
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def accuracy(self, prediction: str) -> float:
        """The official VQA soft accuracy of ``prediction`` against :attr:`answers`."""
        return soft_accuracy(prediction, self.answers)


@dataclass
class MultipleChoiceExample:
    """A text multiple-choice question (CommonsenseQA, OpenBookQA).

    Attributes:
        id: the dataset's question id.
        question: the question stem.
        choices: the option texts, in the source's order.
        labels: the option labels (``"A"``..``"E"``), parallel to ``choices``.
        answer: index of the correct option, or None for unlabeled test sets.
        question_concept: the ConceptNet concept the question was built from (CommonsenseQA).
        fact: the supporting science fact (OpenBookQA "additional" files: ``fact1``).
        source: the dataset it came from.
        extra: other fields kept verbatim (OpenBookQA ``humanScore``, ``clarity``, ...).
    """

    id: str
    question: str
    choices: list[str]
    labels: list[str]
    answer: int | None = None
    question_concept: str | None = None
    fact: str | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answer_label(self) -> str | None:
        return self.labels[self.answer] if self.answer is not None else None


@dataclass
class ClozeExample:
    """A factual cloze probe (LAMA): sentences with a ``[MASK]`` where the object goes.

    Attributes:
        id: the dataset's id (``uuid``, or SQuAD's ``id``).
        masked_sentences: one or more sentences, each holding :data:`MASK`.
        answer: the object label the mask stands for (LAMA ``obj_label``).
        subject: the subject label (``sub_label``, or ConceptNet's ``sub``), or None.
        relation: the relation id (T-REx ``predicate_id`` like ``P19``, Google-RE ``pred``,
            ConceptNet ``pred`` like ``IsA``), or None.
        source: the LAMA subset (``"TREx"``, ``"Google_RE"``, ``"ConceptNet"``, ``"Squad"``).
        subject_uri, object_uri: Wikidata / Freebase ids when the subset has them.
        extra: other fields kept verbatim (evidence surfaces, judgments, negated sentences).
    """

    id: str
    masked_sentences: list[str]
    answer: str
    subject: str | None = None
    relation: str | None = None
    source: str = ""
    subject_uri: str | None = None
    object_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# VQA accuracy (the official evaluation, github.com/GT-Vision-Lab/VQA vqaEval.py)
# --------------------------------------------------------------------------------------------------

_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}
_NUMBERS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = {"a", "an", "the"}
# the official pattern, kept as written: "(?!<=\d)" is a (harmless) typo for a look-behind, so in
# effect a period is removed unless a digit follows it ("2.5" keeps its point, "dog." loses it)
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PUNCT = [
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
]


def _process_punctuation(text: str) -> str:
    out = text
    has_number_comma = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        if (p + " " in text or " " + p in text) or has_number_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out)


def _process_digit_article(text: str) -> str:
    words = [_NUMBERS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


def normalize_answer(answer: str) -> str:
    """The official VQA answer normalisation.

    Whitespace to spaces and stripped; punctuation removed (or turned into a space when it joins
    two words: ``"black/white"`` -> ``"black white"``); periods dropped unless a digit follows;
    lower-cased; number words to digits (``"two"`` -> ``"2"``); articles dropped; missing
    apostrophes restored (``"dont"`` -> ``"don't"``).
    """
    answer = answer.replace("\n", " ").replace("\t", " ").strip()
    return _process_digit_article(_process_punctuation(answer))


def soft_accuracy(prediction: str, answers: list[str]) -> float:
    """The official VQA accuracy of ``prediction`` given the human ``answers`` (usually 10).

    ``min(#humans who gave the answer / 3, 1)``, averaged over the ``n`` subsets of ``n - 1``
    answers (leave each human out once): with 10 answers, a prediction matching 4 or more humans
    scores 1, matching 3 scores 0.9, 2 scores 0.6 (not 2/3), 1 scores 0.3.

    As in the official code, answers and prediction are normalised (:func:`normalize_answer`) only
    when the humans disagree, and compared case-insensitively. An empty ``answers`` scores 0.
    """
    if not answers:
        return 0.0
    gts = [a.replace("\n", " ").replace("\t", " ").strip() for a in answers]
    pred = prediction.replace("\n", " ").replace("\t", " ").strip()
    if len(set(gts)) > 1:
        gts = [_process_digit_article(_process_punctuation(a)) for a in gts]
        pred = _process_digit_article(_process_punctuation(pred))
    pred = pred.lower()
    matches = [g.lower() == pred for g in gts]
    total = sum(matches)
    # leaving out human i: the others that match are total - matches[i]
    return sum(min(1.0, (total - m) / 3) for m in matches) / len(gts)
