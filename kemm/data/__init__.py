"""Datasets: readers for real formats (:mod:`kemm.data.readers`) and the example types they return.

Every reader yields the types of :mod:`kemm.data.examples`, so training and evaluation code never
knows which dataset it reads::

    from kemm.data import read_dataset

    stream = read_dataset("vqav2", "v2_OpenEnded_mscoco_val2014_questions.json", images_dir="val2014",
                          on_error="skip")
    for ex in stream:
        ...  # ex: VQAExample
    stream.write_skipped("skipped.tsv")
"""

from kemm.data.examples import (
    MASK,
    Box,
    ClozeExample,
    DetectionExample,
    ImageAnnotations,
    ImageRef,
    ImageTextPair,
    MultipleChoiceExample,
    ObjectAnnotation,
    Relationship,
    SceneGraph,
    VQAExample,
)
from kemm.data.readers import DATASETS, DatasetStream, detect_dataset, read_dataset

__all__ = [
    "DATASETS",
    "MASK",
    "Box",
    "ClozeExample",
    "DatasetStream",
    "DetectionExample",
    "ImageAnnotations",
    "ImageRef",
    "ImageTextPair",
    "MultipleChoiceExample",
    "ObjectAnnotation",
    "Relationship",
    "SceneGraph",
    "VQAExample",
    "detect_dataset",
    "read_dataset",
]
