"""Configuration of the generated benchmark: sizes, image rendering, splits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kemm.errors import KemmError

#: The splits every benchmark has; val and test ask about held-out entities only.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: The optional split of questions about entities seen in training (none held out), to report
#: accuracy on seen entities beside the held-out ones of test.
SEEN_SPLIT = "test_seen"
#: Splits that may have no images; a split with none is not generated (no files, no stats).
OPTIONAL_SPLITS: tuple[str, ...] = (SEEN_SPLIT,)
#: Every split a benchmark can have, in generation order. A split's position is the seed tag of its
#: random streams, so generating or skipping an optional split leaves the other splits' files as they are.
ALL_SPLITS: tuple[str, ...] = (*SPLITS, *OPTIONAL_SPLITS)


@dataclass(frozen=True)
class SceneConfig:
    """How one image is drawn.

    Attributes:
        image_size: width and height of every image, pixels (default 224).
        object_weights: relative probability of 1, 2, 3 and 4 objects per image.
        min_visible: smallest fraction of an object's pixels that other objects may leave visible
            (0.6: at most 40% occluded, so every object stays recognisable).
        scale_range: an object's longer side as a fraction of the image side, for 1..4 objects.
        noise_sigma: largest standard deviation of the Gaussian pixel noise (0-255 scale).
        placement_tries: random placements tried per object before the object is dropped.
    """

    image_size: int = 224
    object_weights: tuple[float, ...] = (0.2, 0.35, 0.3, 0.15)
    min_visible: float = 0.6
    scale_range: tuple[tuple[float, float], ...] = ((0.45, 0.75), (0.32, 0.55), (0.26, 0.45), (0.22, 0.40))
    noise_sigma: float = 8.0
    placement_tries: int = 30

    def __post_init__(self) -> None:
        if self.image_size < 32:
            raise KemmError(f"image_size must be at least 32 pixels, got {self.image_size}")
        if not 0.0 < self.min_visible <= 1.0:
            raise KemmError(f"min_visible must be in (0, 1], got {self.min_visible}")
        if len(self.object_weights) != len(self.scale_range) or not 1 <= len(self.object_weights) <= 4:
            raise KemmError("object_weights and scale_range need one entry per object count (1 to 4)")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything :func:`~kemm.data.benchmark.build.make_benchmark` needs besides the KG.

    Attributes:
        seed: every random choice derives from it; the same seed gives byte-identical files.
        scale: multiplies the image counts (and with them captions and VQA questions).
        images: images per split at ``scale=1``: a count for each of :data:`SPLITS` and optionally
            for ``test_seen`` (missing or 0: the split is not generated).
        vqa_per_image: most knowledge questions asked about one image.
        captions_per_image: captions written per image (COCO has 5).
        heldout_fraction: fraction of the picturable objects held out, half for validation and half
            for test; their facts never appear in a training question.
        mc_choices: answer choices per multiple-choice question (CommonsenseQA: 5).
        vqa_answers: answers per VQA question (OK-VQA: 10).
        image_format: ``"jpg"`` (as COCO; 8x smaller and 50x faster to encode than PNG for noisy
            images) or ``"png"`` (lossless).
        jpeg_quality: JPEG quality (1-95) when ``image_format`` is ``"jpg"``.
        scene: image rendering settings.
    """

    seed: int = 0
    scale: float = 1.0
    images: dict[str, int] = field(
        default_factory=lambda: {"train": 2000, "val": 250, "test": 250, SEEN_SPLIT: 250}
    )
    vqa_per_image: int = 2
    captions_per_image: int = 5
    heldout_fraction: float = 0.3
    mc_choices: int = 5
    vqa_answers: int = 10
    image_format: str = "jpg"
    jpeg_quality: int = 92
    scene: SceneConfig = field(default_factory=SceneConfig)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise KemmError(f"scale must be positive, got {self.scale}")
        if not set(SPLITS) <= set(self.images) <= set(ALL_SPLITS):
            raise KemmError(
                f"images needs a count for each of {', '.join(SPLITS)} and may have one for "
                f"{', '.join(OPTIONAL_SPLITS)}, got {sorted(self.images)}"
            )
        if any(self.images.get(sp, 0) < 0 for sp in OPTIONAL_SPLITS):
            raise KemmError(f"image counts must not be negative, got {self.images}")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise KemmError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")
        if self.image_format not in ("jpg", "png"):
            raise KemmError(f"image_format must be 'jpg' or 'png', got {self.image_format!r}")
        if not 1 <= self.vqa_per_image <= 9:
            raise KemmError(f"vqa_per_image must be between 1 and 9, got {self.vqa_per_image}")
        if self.mc_choices < 2 or self.mc_choices > 26:
            raise KemmError(f"mc_choices must be between 2 and 26, got {self.mc_choices}")

    def num_images(self, split: str) -> int:
        """Images of ``split`` after scaling: at least 1 for :data:`SPLITS`; for an optional split,
        0 when its count is missing or 0."""
        if split in OPTIONAL_SPLITS:
            return math.ceil(self.images.get(split, 0) * self.scale)
        return max(1, math.ceil(self.images[split] * self.scale))

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits generated, in the order of :data:`ALL_SPLITS`: those with at least one image."""
        return tuple(sp for sp in ALL_SPLITS if self.num_images(sp) > 0)

    def with_overrides(self, **kwargs: Any) -> BenchmarkConfig:
        return replace(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
