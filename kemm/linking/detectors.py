"""Object detections for images: from any Hugging Face detector, or from a COCO results file.

Both give :class:`kemm.data.ImageAnnotations` whose objects are :class:`kemm.data.ObjectAnnotation`
records (label, score, COCO ``Box`` in pixels), the types every kemm dataset reader yields.
:class:`HFDetector` loads any ``AutoModelForObjectDetection`` checkpoint (DETR, YOLOS, RT-DETR,
Conditional/Deformable DETR, ...) by hub name or local path, and OWL-ViT/OWLv2 checkpoints as
open-vocabulary detectors queried with text (e.g. KG labels); images are decoded by
:meth:`kemm.data.ImageRef.open`. :func:`image_detections` reads the detections of one image from a
COCO results file (``[{"image_id", "category_id", "bbox", "score"}]``) through the ``coco-results``
reader of :mod:`kemm.data`, with category names from a COCO annotation file or :data:`COCO80`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from kemm.data import Box, ImageAnnotations, ImageRef, ObjectAnnotation, read_dataset
from kemm.errors import InputError, KemmError, first_line
from kemm.linking.encoder import resolve_model_path

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

ZERO_SHOT_TYPES = ("owlvit", "owlv2")


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
                f"checkpoint name: {first_line(e)}"
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

    def detect(self, image: ImageRef | str | Path, image_id: int | str | None = None) -> ImageAnnotations:
        """The objects found in ``image`` (a reference or a file path), highest score first.

        ``image_id`` defaults to the image's key (its file name). An unreadable or truncated image
        raises :class:`InputError` naming the file (from :meth:`ImageRef.open`).
        """
        ref = image if isinstance(image, ImageRef) else ImageRef(path=Path(image), key=Path(image).name)
        pil = ref.open()
        objects = self.detect_pil(pil)
        return ImageAnnotations(
            image_id=image_id if image_id is not None else (ref.key or ref.location),
            image=ref,
            objects=objects,
            width=pil.size[0],
            height=pil.size[1],
            source=f"hf-detector:{self.name}",
        )

    def detect_pil(self, image: Image.Image) -> list[ObjectAnnotation]:
        """Objects in a decoded RGB image, highest score first."""
        torch = self._torch
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
        out = [
            ObjectAnnotation(box=Box.from_xyxy(*box), label=name, score=float(score))
            for name, score, box in zip(names, res["scores"].tolist(), res["boxes"].tolist())
        ]
        out.sort(key=lambda o: -(o.score or 0.0))
        return out


def image_detections(
    results: str | Path,
    image: str | Path,
    annotations: str | Path | None = None,
    image_id: int | None = None,
    threshold: float = 0.0,
) -> ImageAnnotations:
    """The detections of one image in a COCO results file, read by the ``coco-results`` reader.

    Args:
        results: the results JSON (``[{"image_id", "category_id", "bbox", "score"}, ...]``).
        image: the image file; its name finds the image id in ``annotations`` when ``image_id`` is None.
        annotations: a COCO annotation file (``categories``, ``images``); without it the categories
            are :data:`COCO80` and ``image_id`` must be given.
        image_id: the image's id in the results.
        threshold: drop detections scoring below this.

    Raises :class:`InputError` naming the file (and line) for a bad record, a detection of an image
    or category the annotation file does not list, or an image with no detection.
    """
    image = Path(image)
    results = Path(results)
    if image_id is None and annotations is None:
        raise InputError("no annotation file to look the image id up in; give the image id", image)
    stream = read_dataset("coco-results", results, annotations=annotations, check_images="none")
    found = None
    seen = []
    for ann in stream:  # the annotation file's images name the file of each image id
        seen.append(ann.image_id)
        if ann.image_id == image_id or (image_id is None and ann.image.key == image.name):
            found = ann
    if found is None:
        which = f"image id {image_id}" if image_id is not None else f"image {image.name!r}"
        shown = ", ".join(map(str, sorted(seen, key=str)[:10])) or "none"
        raise InputError(f"no detection for {which}; the file has image ids {shown}", results)
    objects = []
    for o in found.objects:
        if annotations is None:
            name = COCO80.get(o.category_id) if o.category_id is not None else None
            if name is None:
                raise InputError(
                    f"category_id {o.category_id!r} is not a COCO-80 category; give the annotation file",
                    results,
                )
            o = replace(o, label=name)
        if (o.score or 0.0) >= threshold:
            objects.append(o)
    return replace(found, image=ImageRef(path=image, key=image.name), objects=objects)


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
