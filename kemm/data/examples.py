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
decodes only what it uses. :meth:`VQAExample.accuracy` is the official VQA accuracy
(:func:`kemm.evaluation.metrics.vqa_soft_accuracy`).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kemm.errors import InputError
from kemm.evaluation.metrics import vqa_soft_accuracy

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
        """The official VQA soft accuracy of ``prediction`` against :attr:`answers`.

        :func:`kemm.evaluation.metrics.vqa_soft_accuracy`; ValueError when :attr:`answers` is empty.
        """
        return vqa_soft_accuracy(prediction, self.answers)


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
