"""Fine-tuning knowledge VQA (OK-VQA format): the VQA head's answer classifier and KG-entity pointer.

Each question is encoded with its image (resized and normalised by the pre-training processor,
:class:`kemm.pretraining.data.PairProcessor`) and its text grounded by the linker.
:class:`~kemm.models.heads.VQAHead` mixes a classifier over the training answers
(:class:`~kemm.evaluation.answers.AnswerVocabulary`) with a pointer over every KG entity, so an
answer outside the vocabulary is reachable through an entity whose label it is. The loss is the
soft-target cross-entropy on the head's combined ``log_probs``: each human answer weighs
``min(1, count / 3)`` (the official accuracy of that answer), on its vocabulary entry and on every
entity labelled with it, normalised to sum to one.

Object links (``finetune.object_links``; linked objects' boxes become regions, their KG entities
region mentions and, under ``gnn``, question nodes of the retrieved subgraph):

* ``none`` -- no object links: the model sees the image patches and the entities linked in the
  question text only;
* ``detected`` -- the validation and evaluated images' objects come from
  :class:`~kemm.linking.pictures.PictureDetector` (the KG's pictures matched against the image;
  no annotation of those images is read), the training images' from their annotations; its
  precision and recall against the ground truth go to ``info["detection"]``, its detections to
  ``RUN/detections_SPLIT.json`` (COCO results format); reported as ``links: predicted``;
* ``oracle`` -- every split from the benchmark's ground-truth objects; reported as
  ``links: oracle``, apart from the headline.

The answer strings go to :func:`kemm.evaluation.tasks.vqa.score_vqa`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kemm.data import VQAExample
from kemm.evaluation.answers import AnswerVocabulary
from kemm.evaluation.datasets import example_id
from kemm.evaluation.finetune.base import (
    FinetuneConfig,
    FinetuneTask,
    Grounded,
    entity_keys,
    ground_cached,
    knowledge_batch,
    needs_graph,
    pad_texts,
    pooled_output,
    without_fact,
)
from kemm.evaluation.metrics import vqa_soft_accuracy
from kemm.models.heads import VQAHead
from kemm.training import RunContext, StepOutput

logger = logging.getLogger(__name__)


class VQAModel(nn.Module):
    """The backbone and a :class:`VQAHead` over the answer vocabulary and every KG entity."""

    def __init__(self, backbone: nn.Module, num_answers: int) -> None:
        super().__init__()
        self.backbone = backbone
        hidden = int(backbone.text.config.hidden_size)  # type: ignore[union-attr,arg-type]
        self.head = VQAHead(hidden, num_answers, int(backbone.entities.entity_dim))  # type: ignore[union-attr,arg-type]

    def forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        """``log_probs`` ``(B, A + N)``."""
        out = self.backbone(**inputs)
        return self.head(pooled_output(out), self.backbone.entities, extras=out.extras).log_probs  # type: ignore[arg-type]


class VQAItem:
    """One question ready for the model: grounded text, image pixels, regions (oracle links only)."""

    def __init__(
        self, text: Grounded, pixels: torch.Tensor, boxes: torch.Tensor, target: dict[int, float]
    ) -> None:
        self.text = text
        self.pixels = pixels  # (3, S, S)
        self.boxes = boxes  # (R, 4); R = 0 without object links
        self.target = target  # answer index (vocabulary a, or A + entity n) -> weight, summing to 1


def answer_targets(
    answers: Sequence[str], vocabulary: AnswerVocabulary, entities_of: dict[str, list[int]]
) -> dict[int, float]:
    """Soft targets over ``A + N``: each human answer weighs ``min(1, count / 3)``, on its vocabulary
    entry and every entity labelled with it; normalised (empty when no answer is reachable)."""
    index, a = vocabulary.index, len(vocabulary)
    target: dict[int, float] = defaultdict(float)
    for answer, count in Counter(answers).items():
        weight = min(1.0, count / 3.0)
        if answer in index:
            target[index[answer]] += weight
        for n in entities_of.get(answer, []):
            target[a + n] += weight
    total = sum(target.values())
    return {k: v / total for k, v in target.items()} if total else {}


class VQATask(FinetuneTask):
    """Soft-target cross-entropy on the VQA head; validation VQA accuracy decides the epoch kept."""

    def __init__(
        self,
        model: VQAModel,
        fusion: str,
        train: list[VQAItem],
        valid: list[VQAItem],
        valid_answers: list[list[str]],
        answer_names: list[str],
        cfg: FinetuneConfig,
        pad_id: int,
    ) -> None:
        self.model = model
        self.fusion = fusion
        self.train = [x for x in train if x.target]  # questions no answer of which is reachable teach nothing
        self.valid, self.valid_answers = valid, valid_answers
        self.answer_names = answer_names  # A + N names: vocabulary answers, then entity labels
        self.cfg = cfg
        self.pad_id = pad_id
        self.device = torch.device("cpu")

    def log_probs(self, items: Sequence[VQAItem]) -> torch.Tensor:
        ids, mask = pad_texts([x.text for x in items], self.pad_id)
        inputs: dict[str, Any] = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "pixel_values": torch.stack([x.pixels for x in items]).to(self.device),  # (B, 3, S, S)
            "knowledge": knowledge_batch([x.text for x in items], self.fusion).to(self.device),
        }
        r = max(len(x.boxes) for x in items)
        if r:
            boxes = torch.zeros((len(items), r, 4))
            boxes[..., 2:] = 1.0  # a padded region is a 1-pixel box (never attended)
            region_mask = torch.zeros((len(items), r), dtype=torch.bool)
            for i, x in enumerate(items):
                boxes[i, : len(x.boxes)], region_mask[i, : len(x.boxes)] = x.boxes, True
            inputs.update(boxes=boxes.to(self.device), region_mask=region_mask.to(self.device))
        return self.model(inputs)  # (B, A + N)

    def training_step(self, batch: list[int]) -> StepOutput:
        items = self.train_items(batch)
        logp = self.log_probs(items)
        target = torch.zeros_like(logp)  # (B, A + N)
        for i, x in enumerate(items):
            for k, w in x.target.items():
                target[i, k] = w
        loss = -(target * logp.clamp_min(-1e4)).sum(-1).mean()
        return StepOutput(loss, num_samples=len(items))

    def item_without_fact(self, item: VQAItem, states: Any) -> VQAItem | None:
        g = without_fact(item.text, states)
        return None if g is None else VQAItem(g, item.pixels, item.boxes, item.target)

    def configure_optimizer(self) -> Any:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def predict(self, items: Sequence[VQAItem]) -> list[str]:
        was = self.model.training
        self.model.eval()
        out: list[str] = []
        with torch.no_grad():
            for s in range(0, len(items), self.cfg.batch_size):
                best = self.log_probs(items[s : s + self.cfg.batch_size]).argmax(-1).tolist()
                out += [self.answer_names[k] for k in best]
        self.model.train(was)
        return out

    def validate(self, ctx: RunContext) -> dict[str, float]:
        if not self.valid:
            return {}
        preds = self.predict(self.valid)
        acc = [vqa_soft_accuracy(p, g) for p, g in zip(preds, self.valid_answers)]
        return {"valid/vqa_accuracy": sum(acc) / len(acc)}


def _objects(bench_root: Path, split: str) -> dict[Any, list[Any]]:
    """image id -> its ground-truth objects (the benchmark's COCO instances)."""
    from kemm.data import read_dataset

    path = bench_root / "annotations" / f"instances_{split}.json"
    return {a.image_id: list(a.objects) for a in read_dataset("coco-instances", path, check_images="none")}


def _items(
    split: str,
    examples: Sequence[VQAExample],
    objects: dict[Any, list[Any]],
    kg: Any,
    tokenizer: Any,
    processor: Any,
    cfg: FinetuneConfig,
    fusion: str,
    key: tuple,
    targets: list[dict[int, float]],
) -> list[VQAItem]:
    pixels: dict[Any, tuple[torch.Tensor, torch.Tensor, list[int | None]]] = {}
    links: list[list[int | None]] = []
    linked = cfg.object_links != "none"
    for ex in examples:
        if ex.image_id not in pixels:
            objs = objects.get(ex.image_id, []) if linked else []
            ents = [_entity(kg, o) for o in objs]
            x, boxes, _, order = processor.image(ex, objs, [e if e is not None else -1 for e in ents])
            pixels[ex.image_id] = (x, boxes, [ents[i] for i in order])
        links.append(pixels[ex.image_id][2])
    texts = ground_cached(
        (*key, cfg.object_links),
        kg,
        tokenizer,
        [ex.question for ex in examples],
        cfg,
        object_links=links if linked else None,
        with_graph=needs_graph(fusion),
    )
    return [
        VQAItem(t, pixels[ex.image_id][0], pixels[ex.image_id][1], tg)
        for ex, t, tg in zip(examples, texts, targets)
    ]


_DETECTORS: dict[str, Any] = {}
_DETECTIONS: dict[tuple[str, str], list[Any]] = {}


def _detected(
    bench_root: Path, split: str, examples: Sequence[VQAExample], kg: Any, run_dir: Path
) -> tuple[dict[Any, list[Any]], dict[str, float]]:
    """image id -> the objects the picture detector finds in it (computed once per process and
    image), written to ``run_dir/detections_SPLIT.json``; and their quality against the annotations."""
    from kemm.linking.pictures import PictureDetector, coco_results, detection_quality
    from kemm.utils.io import atomic_write

    kg_key = str(getattr(kg, "path", "") or id(kg))
    if kg_key not in _DETECTORS:
        _DETECTORS.clear()
        _DETECTORS[kg_key] = PictureDetector.from_kg(kg)
    detector = _DETECTORS[kg_key]
    images = {ex.image_id: ex.image for ex in examples}
    found: dict[Any, list[Any]] = {}
    for image_id, ref in images.items():
        cache = (kg_key, str(ref.path if getattr(ref, "path", None) else ref))
        if cache not in _DETECTIONS:
            _DETECTIONS[cache] = detector.detect(ref.open("RGB"))
        found[image_id] = _DETECTIONS[cache]
    truth = _objects(bench_root, split)
    quality = detection_quality([found[i] for i in found], [truth.get(i, []) for i in found])
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_dir / f"detections_{split}.json") as f:
        json.dump(coco_results(found, kg), f)
    logger.info(
        "picture detector on %d %s images: entity precision %.2f, recall %.2f",
        len(images),
        split,
        quality["entity_precision"],
        quality["entity_recall"],
    )
    return {i: [d.annotation() for d in dets] for i, dets in found.items()}, quality


def _entity(kg: Any, obj: Any) -> int | None:
    if not obj.entity:
        return None
    try:
        return int(kg.entity_id(obj.entity))
    except Exception:  # noqa: BLE001 - an object outside the KG links to nothing
        return None


def finetune_vqa(
    ablation: Any,
    task: str,
    fusion: str,
    seed: int,
    setting: str,
    kg_dir: Path,
    kge_run: Path,
    run_dir: Path,
) -> Any:
    """Fine-tune ``fusion``'s model on the benchmark's train questions and score ``ablation.split``
    (the :data:`~kemm.evaluation.ablation.FINETUNERS` signature)."""
    from kemm.evaluation.finetune.base import (
        FinetuneRun,
        fit,
        run_settings,
        score_with_seen,
        start_run,
    )
    from kemm.evaluation.runner import _facts
    from kemm.evaluation.tasks.base import write_result
    from kemm.evaluation.tasks.vqa import score_vqa
    from kemm.pretraining.data import PairProcessor

    run_dir = Path(run_dir)
    run = start_run(ablation, "okvqa", fusion, seed, kg_dir, kge_run, run_dir)
    if not isinstance(run, FinetuneRun):
        return run  # finished before with the same settings
    cfg, pretrained, bench, specs, data, kg, backbone, tokenizer = run
    vocab = AnswerVocabulary.from_examples(data["train"])
    labels = [kg.entity_label(i) for i in range(kg.num_entities)]
    entities_of: dict[str, list[int]] = defaultdict(list)
    for n, label in enumerate(labels):
        entities_of[label.lower()].append(n)
    names = list(vocab.answers) + labels
    image_size = backbone.vision_config.image_size  # type: ignore[union-attr]
    processor = PairProcessor(tokenizer, int(image_size), cfg.max_length)  # type: ignore[arg-type]
    objects: dict[str, dict[Any, list[Any]]] = {}
    detection: dict[str, dict[str, float]] = {}
    for s in data:
        if cfg.object_links == "detected" and s != "train":
            objects[s], detection[s] = _detected(bench.root, s, data[s], kg, run_dir)
        else:
            objects[s] = _objects(bench.root, s)
    items = {
        s: _items(
            s,
            data[s],
            objects[s],
            kg,
            tokenizer,
            processor,
            cfg,
            fusion,
            ("okvqa", str(specs[s].path), str(kg_dir), int(image_size)),  # type: ignore[arg-type]
            [answer_targets(ex.answers, vocab, entities_of) for ex in data[s]],
        )
        for s in data
    }
    model = VQAModel(backbone, len(vocab))
    vt = VQATask(
        model,
        fusion,
        items["train"],
        items["val"],
        [list(ex.answers) for ex in data["val"]],
        names,
        cfg,
        tokenizer.pad_token_id or 0,
    )
    reachable = [ex for ex, it in zip(data["train"], items["train"]) if it.target]  # vt.train's order
    vt.prepare_fact_dropout(kg, reachable, specs["train"])
    trained = fit(vt, cfg, seed, "valid/vqa_accuracy", run_dir, task)
    links = "oracle" if cfg.object_links == "oracle" else "predicted"

    def score(split: str) -> tuple[Any, list]:
        examples = data[split]
        ids = [example_id(ex) for ex in examples]
        answers = dict(zip(ids, vt.predict(items[split])))
        entities = {i: entity_keys(kg, it.text.knowledge) for i, it in zip(ids, items[split])}
        facts = _facts(examples, specs[split])
        return score_vqa(
            task, examples, answers, vocab, facts, bench.heldout(split), entities, setting, links
        )

    result, preds = score_with_seen(ablation, data, run_dir, score)
    from_entities = sum(p.prediction not in vocab for p in preds)
    result.info.update(
        {
            "fusion": fusion,
            "seed": seed,
            "finetune": run_settings(cfg, pretrained),
            "checkpoint": str(pretrained) if pretrained else f"fresh {cfg.architecture}",
            "kge": str(kge_run),
            "kg": str(kg_dir),
            "object_links": {
                "none": "none",
                "detected": "detected (picture detector; training images: their annotations)",
                "oracle": "oracle (ground-truth annotations)",
            }[cfg.object_links],
            "detection": detection,
            "train_questions": len(vt.train),
            "train_facts_in_subgraph": vt.facts_in_subgraphs(),
            "answers_from_entity_pointer": from_entities,
            "best_epoch": trained.best_epoch,
            "valid_vqa_accuracy": trained.best_metric,
            "epoch_losses": [round(float(h["loss"]), 4) for h in trained.history],
        }
    )
    return write_result(run_dir, result, preds)
