"""Readers for real dataset formats, all returning :mod:`kemm.data.examples` types.

=====================  ===========================================  ==========================
name                   source                                       yields
=====================  ===========================================  ==========================
``coco-captions``      ``captions_train2017.json``                  :class:`ImageTextPair`
``coco-instances``     ``instances_val2017.json``                   :class:`ImageAnnotations`
``coco-results``       ``[{"image_id", "category_id", "bbox", ...}]`` :class:`ImageAnnotations`
``visual-genome``      ``scene_graphs.json`` (+ ``image_data.json``)  :class:`SceneGraph`
``vqav2``, ``okvqa``   questions + annotations JSON                 :class:`VQAExample`
``aokvqa``             ``aokvqa_v1p0_train.json``                   :class:`VQAExample`
``commonsenseqa``      ``train_rand_split.jsonl``                   :class:`MultipleChoiceExample`
``openbookqa``         ``Main/train.jsonl``, ``Additional/*.jsonl``  :class:`MultipleChoiceExample`
``lama`` (``-trex``,   ``TREx/P19.jsonl``, ``Google_RE/*.jsonl``,     :class:`ClozeExample`
``-google-re``, ...)   ``ConceptNet/test.jsonl``, ``Squad/test.jsonl``
``image-text-folder``  ``dog.jpg`` + ``dog.txt``                     :class:`ImageTextPair`
``image-text-jsonl``   ``{"image": ..., "text": ...}`` lines         :class:`ImageTextPair`
``webdataset``         ``shard-{000000..000009}.tar``               :class:`ImageTextPair`
=====================  ===========================================  ==========================

>>> for pair in read_dataset("coco-captions", "annotations/captions_val2017.json", images_dir="val2017"):
...     pair.image.open(), pair.text
"""

from __future__ import annotations

from kemm.data.readers.base import (
    DATASETS,
    DatasetReader,
    DatasetStream,
    detect_dataset,
    expand_braces,
    iter_json_array,
    iter_jsonl,
    load_json,
    read_dataset,
)

# importing the modules registers the readers
from kemm.data.readers import coco, image_text, lama, multiple_choice, visual_genome, vqa  # noqa: E402,F401  isort: skip

__all__ = [
    "DATASETS",
    "DatasetReader",
    "DatasetStream",
    "detect_dataset",
    "expand_braces",
    "iter_json_array",
    "iter_jsonl",
    "load_json",
    "read_dataset",
]
