"""Object detections for images: from any Hugging Face detector, or from a COCO results file.

Every adapter yields :class:`Detection` records (label, score, box ``[x, y, w, h]`` in pixels, as
COCO writes them). :class:`HFDetector` loads any ``AutoModelForObjectDetection`` checkpoint (DETR,
YOLOS, RT-DETR, Conditional/Deformable DETR, ...) by hub name or local path, and OWL-ViT/OWLv2
checkpoints as open-vocabulary detectors queried with text (e.g. KG labels).
:func:`read_coco_detections` reads ``[{"image_id", "category_id", "bbox", "score"}]`` written by
any detector, with the category names from a COCO annotation file (or the COCO-80 list).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from kemm.errors import InputError, KemmError
from kemm.linking.encoder import resolve_model_path

logger = logging.getLogger(__name__)

ZERO_SHOT_TYPES = ("owlvit", "owlv2")


@dataclass
class Detection:
    """One detected object.

    Attributes:
        label: the class name (or the text query, for open-vocabulary detectors).
        score: detector confidence in [0, 1].
        box_xywh: ``[x, y, width, height]`` in pixels, origin at the top-left corner.
        image_id: the image it was found in (file name, or the COCO image id).
    """

    label: str
    score: float
    box_xywh: tuple[float, float, float, float]
    image_id: str | int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box_xywh"] = [round(float(v), 2) for v in self.box_xywh]
        return d


def load_image(path: str | Path):
    """An RGB ``PIL.Image``; an unreadable or truncated file raises :class:`InputError` naming it."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError("image file not found", path)
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated file fails here, not later
            return im.convert("RGB")
    except UnidentifiedImageError as e:
        raise InputError(f"not an image PIL can read ({e})", path) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"cannot decode the image, truncated or corrupt ({e})", path) from None


class HFDetector:
    """A Hugging Face object detector.

    Args:
        name_or_path: hub name or local directory of the checkpoint (with its image processor).
        threshold: detections scoring below this are dropped.
        text_queries: label queries for open-vocabulary detectors (OWL-ViT/OWLv2); required there.
        device: torch device.
    """

    def __init__(
        self,
        name_or_path: str,
        threshold: float = 0.5,
        text_queries: Sequence[str] | None = None,
        device: str = "cpu",
    ) -> None:
        import torch
        from transformers import AutoConfig

        path = resolve_model_path(name_or_path)
        try:
            config = AutoConfig.from_pretrained(path)
        except OSError as e:
            raise KemmError(
                f"cannot load detector {name_or_path!r}: give a local directory or an available "
                f"checkpoint name: {e}"
            ) from e
        self.zero_shot = config.model_type in ZERO_SHOT_TYPES
        if self.zero_shot:
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

            if not text_queries:
                raise KemmError(
                    f"{name_or_path!r} is an open-vocabulary detector ({config.model_type}); "
                    "give text queries (e.g. KG labels)"
                )
            self.processor = AutoProcessor.from_pretrained(path)
            self.model = AutoModelForZeroShotObjectDetection.from_pretrained(path)
        else:
            from transformers import AutoImageProcessor, AutoModelForObjectDetection

            self.processor = AutoImageProcessor.from_pretrained(path)
            self.model = AutoModelForObjectDetection.from_pretrained(path)
        self.model = self.model.to(device).eval()
        self.name = name_or_path
        self.threshold = threshold
        self.text_queries = list(text_queries or [])
        self.device = device
        self._torch = torch

    def detect(self, image, image_id: str | int = 0) -> list[Detection]:
        """Detections in ``image`` (a PIL image or a path)."""
        torch = self._torch
        if not hasattr(image, "size"):
            image_id = image_id or Path(image).name
            image = load_image(image)
        w, h = image.size
        target = torch.tensor([[h, w]])
        if self.zero_shot:
            inputs = self.processor(text=[self.text_queries], images=image, return_tensors="pt").to(
                self.device
            )
        else:
            inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        if self.zero_shot:
            res = self.processor.post_process_grounded_object_detection(
                outputs, threshold=self.threshold, target_sizes=target, text_labels=[self.text_queries]
            )[0]
            names = [self.text_queries[int(i)] for i in res["labels"]]
        else:
            res = self.processor.post_process_object_detection(
                outputs, threshold=self.threshold, target_sizes=target
            )[0]
            id2label = self.model.config.id2label
            names = [id2label.get(int(i), str(int(i))) for i in res["labels"]]
        out = []
        for name, score, (x0, y0, x1, y1) in zip(names, res["scores"].tolist(), res["boxes"].tolist()):
            out.append(Detection(name, float(score), (x0, y0, x1 - x0, y1 - y0), image_id))
        out.sort(key=lambda d: -d.score)
        return out


def read_coco_categories(path: str | Path) -> tuple[dict[int, str], dict[str, int]]:
    """Categories and images of a COCO annotation file: ``({category_id: name}, {file_name: image_id})``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read COCO annotations: {e}", path) from None
    if not isinstance(data, dict) or "categories" not in data:
        raise InputError('not a COCO annotation file: no "categories" list', path)
    cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    images = {str(im["file_name"]): int(im["id"]) for im in data.get("images", [])}
    return cats, images


def read_coco_detections(
    results: str | Path,
    categories: dict[int, str],
    image_id: int | None = None,
    known_images: Sequence[int] | None = None,
    threshold: float = 0.0,
) -> list[Detection]:
    """Detections of a COCO results file (``[{"image_id", "category_id", "bbox", "score"}, ...]``).

    Args:
        results: the results JSON.
        categories: category id -> name (from :func:`read_coco_categories` or :data:`COCO80`).
        image_id: keep only this image; it must occur in the file.
        known_images: the image ids of the annotation file; a result naming another raises.
        threshold: drop detections scoring below this.
    """
    results = Path(results)
    try:
        rows = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read detections: {e}", results) from None
    if not isinstance(rows, list):
        raise InputError("a COCO results file is a JSON list of detections", results)
    known = set(known_images) if known_images is not None else None
    out, unknown_images, seen = [], set(), set()
    for k, row in enumerate(rows):
        try:
            img, cat, bbox, score = row["image_id"], int(row["category_id"]), row["bbox"], float(row["score"])
            x, y, w, h = (float(v) for v in bbox)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(
                f"detection #{k} needs image_id, category_id, bbox [x,y,w,h] and score ({e})",
                results,
                text=json.dumps(row)[:200],
            ) from None
        if known is not None and img not in known:
            unknown_images.add(img)
            continue
        seen.add(img)
        if cat not in categories:
            raise InputError(
                f"detection #{k} has category_id {cat}, which the categories do not list", results
            )
        if image_id is not None and img != image_id:
            continue
        if score >= threshold:
            out.append(Detection(categories[cat], score, (x, y, w, h), img))
    if unknown_images:
        shown = ", ".join(map(str, sorted(unknown_images, key=str)[:10]))
        raise InputError(
            f"{len(unknown_images)} image ids of the detections are not in the annotation file's "
            f"images: {shown}",
            results,
        )
    if image_id is not None and image_id not in seen:
        shown = ", ".join(map(str, sorted(seen, key=str)[:10])) or "none"
        raise InputError(f"no detection for image id {image_id}; the file has image ids {shown}", results)
    out.sort(key=lambda d: -d.score)
    return out


#: The 80 COCO detection categories by their (non-contiguous) category ids.
COCO80: dict[int, str] = dict(
    zip(
        [
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            13,
            14,
            15,
            16,
            17,
            18,
            19,
            20,
            21,
            22,
            23,
            24,
            25,
            27,
            28,
            31,
            32,
            33,
            34,
            35,
            36,
            37,
            38,
            39,
            40,
            41,
            42,
            43,
            44,
            46,
            47,
            48,
            49,
            50,
            51,
            52,
            53,
            54,
            55,
            56,
            57,
            58,
            59,
            60,
            61,
            62,
            63,
            64,
            65,
            67,
            70,
            72,
            73,
            74,
            75,
            76,
            77,
            78,
            79,
            80,
            81,
            82,
            84,
            85,
            86,
            87,
            88,
            89,
            90,
        ],
        [
            "person",
            "bicycle",
            "car",
            "motorcycle",
            "airplane",
            "bus",
            "train",
            "truck",
            "boat",
            "traffic light",
            "fire hydrant",
            "stop sign",
            "parking meter",
            "bench",
            "bird",
            "cat",
            "dog",
            "horse",
            "sheep",
            "cow",
            "elephant",
            "bear",
            "zebra",
            "giraffe",
            "backpack",
            "umbrella",
            "handbag",
            "tie",
            "suitcase",
            "frisbee",
            "skis",
            "snowboard",
            "sports ball",
            "kite",
            "baseball bat",
            "baseball glove",
            "skateboard",
            "surfboard",
            "tennis racket",
            "bottle",
            "wine glass",
            "cup",
            "fork",
            "knife",
            "spoon",
            "bowl",
            "banana",
            "apple",
            "sandwich",
            "orange",
            "broccoli",
            "carrot",
            "hot dog",
            "pizza",
            "donut",
            "cake",
            "chair",
            "couch",
            "potted plant",
            "bed",
            "dining table",
            "toilet",
            "tv",
            "laptop",
            "mouse",
            "remote",
            "keyboard",
            "cell phone",
            "microwave",
            "oven",
            "toaster",
            "sink",
            "refrigerator",
            "book",
            "clock",
            "vase",
            "scissors",
            "teddy bear",
            "hair drier",
            "toothbrush",
        ],
        strict=True,
    )
)
