"""``kemm eval ablate``: every task, with ``fusion: none`` and each fusion module, over seeds and
both knowledge settings, into one report (:mod:`kemm.evaluation.report`).

What runs, and what is shared (the report's "Shared checkpoints" section says the same):

* one KG per knowledge setting: the given KG (*fact in KG*), and a copy without every evaluated
  fact of every task's evaluated split (*fact removed*, :func:`kemm.evaluation.facts.remove_evaluated_facts`),
  shared by every task, fusion module and seed of the setting;
* one KGE run per (setting, seed), trained with ``kge_config`` on that KG's train split: the
  ``linkpred`` task evaluates it on the KG's test split and on the evaluated facts themselves
  (``linkpred-facts``: the LAMA facts of the evaluated split, which the fact-removed KG lacks),
  ``factverify`` scores its statements with it, and the fusion modules of that setting and seed take their
  entity vectors from it;
* the baselines (chance and train prior) once per task: they see neither the KG nor a model;
* per (task, fusion module, seed, setting): fine-tuning from the fusion module's pre-trained
  checkpoint (``pretrained``), shared by every seed and setting of that fusion module.

The model-based tasks (lama, lama-zero-shot, csqa, okvqa with a fusion module) are fine-tuned by a function
registered in :data:`FINETUNERS` under the task's name, which returns the answers that the task's
scoring function takes; a task without one is refused when the config is checked, before anything runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemm import config as kemm_config
from kemm.errors import KemmError
from kemm.evaluation.benchmark import Benchmark
from kemm.evaluation.datasets import load_examples
from kemm.evaluation.facts import Fact, fact_triples, read_facts, remove_evaluated_facts
from kemm.evaluation.report import Baseline, RunRecord, write_report
from kemm.evaluation.runner import benchmark_task
from kemm.evaluation.tasks.base import EVAL_TASKS, SETTINGS
from kemm.kg.graph import KnowledgeGraph

logger = logging.getLogger(__name__)

#: task name -> ``fn(cfg, task, fusion, seed, setting, kg_dir, kge_run, out_dir) -> TaskResult``:
#: fine-tune the fusion module's pre-trained checkpoint on the task and evaluate it.
FINETUNERS: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class FinetunerSpec:
    """What a registered fine-tuner needs beyond its signature.

    Attributes:
        settings: the knowledge settings it runs in (the ablation skips the others and says why).
        why: the reason it skips the others (the report's "Shared checkpoints" section).
        needs_checkpoint: every fusion module must have a ``pretrained`` checkpoint.
        seedless: nothing it does is random (no training): it runs for the first seed only.
    """

    settings: tuple[str, ...] = SETTINGS
    why: str = ""
    needs_checkpoint: bool = False
    seedless: bool = False


#: task name -> its :class:`FinetunerSpec` (a fine-tuner without one runs everywhere)
FINETUNER_SPECS: dict[str, FinetunerSpec] = {}


def finetuner_spec(task: str) -> FinetunerSpec:
    return FINETUNER_SPECS.get(task, FinetunerSpec())


#: tasks the bundled benchmark holds, and the benchmark folder of each
BENCHMARK_TASKS = {"lama": "lama", "lama-zero-shot": "lama", "csqa": "csqa", "okvqa": "okvqa"}


@dataclass
class AblationConfig:
    """What ``kemm eval ablate`` runs; a YAML file in ``configs/eval/`` holds exactly these fields.

    Attributes:
        benchmark: a benchmark directory built by ``kemm data make-benchmark``.
        kg: the KG directory it was built from, with a train split (``kemm kg ingest`` + ``kemm kg split``).
        tasks: any of ``lama``, ``lama-zero-shot``, ``csqa``, ``okvqa``, ``linkpred``,
            ``factverify`` (the last two run on the KGE run of each setting and seed, as fusion
            ``kge``; ``lama-zero-shot`` scores each ``pretrained`` checkpoint without fine-tuning,
            fact in KG only).
        fusions: fusion modules to compare; ``none`` is the baseline without knowledge fusion.
        seeds: fine-tuning (and KGE) seeds; mean ± std are over these.
        settings: ``fact-in-kg`` and/or ``fact-removed``.
        split: the benchmark split evaluated (``val`` or ``test``).
        seen_split: a split of questions about entities seen in training (the benchmark's
            ``test_seen``), scored by the same fine-tuned models: its figures are the report's
            "seen entities" group, beside the held-out entities of ``split``. Skipped for a task
            whose benchmark lacks it (older benchmarks); None: never.
        kge_config: the KGE training YAML (``configs/kge/*.yaml``); its seed is replaced by each seed.
        kge_epochs: override the KGE config's epochs (None: keep).
        pretrained: fusion module -> pre-trained checkpoint directory, shared by every seed,
            setting and task of that module (model-based tasks only).
        fusion_options: fusion module -> options of its config for the models built fresh (e.g.
            ``{gnn: {mention_states: true}}``), over ``finetune.model.fusion_options``: one config can
            compare ``none`` with an option of another module. A pre-trained checkpoint keeps the
            options it was trained with, so a module with ``pretrained`` takes none here.
        baselines: also report the chance level and the train prior of each task.
        finetune: how the model-based tasks are fine-tuned, the fields of
            :class:`kemm.evaluation.finetune.FinetuneConfig` (model built fresh when a fusion
            module has no ``pretrained`` checkpoint, epochs, batch size, learning rate, ...).
    """

    benchmark: str
    kg: str
    tasks: list[str] = field(default_factory=lambda: ["linkpred"])
    fusions: list[str] = field(default_factory=lambda: ["none"])
    seeds: list[int] = field(default_factory=lambda: [0])
    settings: list[str] = field(default_factory=lambda: list(SETTINGS))
    split: str = "test"
    seen_split: str | None = "test_seen"
    kge_config: str = "configs/kge/demo_commonsense.yaml"
    kge_epochs: int | None = None
    pretrained: dict[str, str] = field(default_factory=dict)
    fusion_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    baselines: bool = True
    finetune: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import kemm.evaluation.finetune  # noqa: F401 - registers the FINETUNERS
        from kemm.evaluation.finetune import FinetuneConfig
        from kemm.models.fusion.base import check_fusion_options

        for t in self.tasks:
            EVAL_TASKS.get(t)  # unknown names: an error naming the nearest
        bad = [s for s in self.settings if s not in SETTINGS]
        if bad or not self.settings:
            raise KemmError(f"settings must be among {', '.join(SETTINGS)}, got {self.settings}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise KemmError(f"seeds must be distinct and at least one, got {self.seeds}")
        if not self.tasks:
            raise KemmError("no tasks to run")
        if self.split not in ("val", "test"):
            raise KemmError(f"split must be 'val' or 'test', got {self.split!r}")
        if self.seen_split not in (None, "test_seen"):
            raise KemmError(f"seen_split must be 'test_seen' or null, got {self.seen_split!r}")
        FinetuneConfig.from_dict(dict(self.finetune))  # misspelt keys: an error before anything runs
        for f, options in self.fusion_options.items():
            if f not in self.fusions:
                raise KemmError(f"fusion_options.{f}: not one of the fusions {self.fusions}")
            if f in self.pretrained:
                raise KemmError(
                    f"fusion_options.{f}: {f} starts from a pre-trained checkpoint, whose config fixes its options"
                )
            if not isinstance(options, dict):
                raise KemmError(f"fusion_options.{f}: a mapping of option -> value, got {options!r}")
            check_fusion_options(f, options)
        model_tasks = [t for t in self.tasks if t not in ("linkpred", "factverify")]
        missing = [t for t in model_tasks if t not in FINETUNERS]
        if missing and self.fusions:
            raise KemmError(
                f"no fine-tuning is registered for {', '.join(missing)} (kemm.evaluation.ablation.FINETUNERS): "
                "the model-based tasks need it; run them with `fusions: []` for their baselines only"
            )
        lacking = [f for f in self.fusions if f not in self.pretrained]
        for t in model_tasks:
            if finetuner_spec(t).needs_checkpoint and lacking:
                raise KemmError(
                    f"task {t} scores a pre-trained checkpoint as it is: `pretrained` has none for "
                    f"{', '.join(lacking)}"
                )

    @classmethod
    def from_yaml(cls, path: str | Path) -> AblationConfig:
        return kemm_config.from_yaml(cls, path)


def _evaluated_facts(cfg: AblationConfig, tasks: Sequence[str] | None = None) -> list[Fact]:
    """The facts of the evaluated split of ``tasks`` (default: the config's benchmark tasks, or
    all three when it has none: ``linkpred`` and ``factverify`` are about every evaluated fact)."""
    bench = Benchmark(cfg.benchmark)
    facts = []
    chosen = (
        tasks
        if tasks is not None
        else [t for t in cfg.tasks if t in BENCHMARK_TASKS] or list(BENCHMARK_TASKS)
    )
    for folder in dict.fromkeys(BENCHMARK_TASKS[t] for t in chosen):  # lama-zero-shot: lama's facts
        spec = bench.dataset(folder, cfg.split)
        examples = load_examples(spec.format, spec.path, **spec.options)
        facts.extend(read_facts(examples, spec.format, spec.path))
    return facts


def _kg_for(cfg: AblationConfig, setting: str, out: Path) -> Path:
    if setting == "fact-in-kg":
        return Path(cfg.kg)
    return remove_evaluated_facts(cfg.kg, _evaluated_facts(cfg), out / "kg_fact_removed").path


def _kge_config(cfg: AblationConfig, seed: int) -> Any:
    """The KGE TrainConfig of ``cfg.kge_config`` with ``seed`` (and ``kge_epochs``) applied."""
    import dataclasses

    from kemm.embeddings.config import TrainConfig

    overrides: dict[str, Any] = {"seed": seed, "tensorboard": False}
    if cfg.kge_epochs is not None:
        overrides["epochs"] = cfg.kge_epochs
    return dataclasses.replace(TrainConfig.from_yaml(cfg.kge_config), **overrides)


def _train_kge(cfg: AblationConfig, kg_dir: Path, seed: int, out: Path) -> Path:
    from kemm.embeddings.run import train_kge

    tc = _kge_config(cfg, seed)
    if (out / "model" / "model.safetensors").exists():
        logger.info("KGE run %s exists; reused", out)
        return out
    # a run cut short (Ctrl-C, a killed job) resumes from its last checkpoint
    train_kge(kg_dir, out, tc, resume=(out / "checkpoint").exists())
    return out


def _baselines(cfg: AblationConfig, out: Path) -> tuple[dict[str, Baseline], list[Path]]:
    bench = Benchmark(cfg.benchmark)
    baselines: dict[str, Baseline] = {}
    data: list[Path] = [Path(cfg.benchmark)]
    for task in cfg.tasks:
        if task not in BENCHMARK_TASKS:
            continue
        res = benchmark_task(cfg.benchmark, task, cfg.split, out / "baselines" / task, baseline="train-prior")
        metric = EVAL_TASKS.get(task).metric
        note = (
            f"Train prior: {res.metrics[metric] * 100:.1f} % ({res.info['source']}); "
            f"chance from the benchmark's stats.json; counts: "
            + ", ".join(f"{k} {v}" for k, v in res.counts.items())
        )
        baselines[task] = Baseline(
            bench.chance(BENCHMARK_TASKS[task], cfg.split), res.metrics[metric], metric, note
        )
    return baselines, data


def _statements(cfg: AblationConfig) -> tuple[list[Any], list[Any]]:
    """Validation and evaluated statements from the benchmark's LAMA facts, corrupted against the
    full KG (so a corruption is never a removed true fact); the same in every setting and seed."""
    from kemm.evaluation.tasks.fact_verification import make_statements

    bench, kg = Benchmark(cfg.benchmark), KnowledgeGraph.load(cfg.kg)
    out = []
    for split in ("val", cfg.split):
        spec = bench.dataset("lama", split)
        facts = read_facts(load_examples(spec.format, spec.path), spec.format, spec.path)
        out.append(make_statements(kg, facts, seed=0))
    return out[0], out[1]


def _fact_verification(cfg: AblationConfig, verify: Any, kge: Path, setting: str, run_dir: Path) -> Any:
    from kemm.embeddings.run import load_run
    from kemm.evaluation.tasks.base import write_result
    from kemm.evaluation.tasks.fact_verification import kge_decisions, score_fact_verification

    valid, test = verify
    model, kg = load_run(kge)
    res, preds = score_fact_verification(
        test, kge_decisions(model, valid, test), kg, Benchmark(cfg.benchmark).heldout(cfg.split), setting
    )
    res.info.update({"kge": str(kge), "scorer": "KGE score, per-relation thresholds tuned on val statements"})
    return write_result(run_dir, res, preds)


def run_ablation(cfg: AblationConfig, out: str | Path, config_dict: dict[str, Any] | None = None) -> Path:
    """Run every (task, fusion, seed, setting) of ``cfg`` and write the report into ``out``."""
    from kemm.evaluation.tasks.linkpred import evaluate_linkpred

    out = Path(out)
    start = time.perf_counter()
    records: list[RunRecord] = []
    shared: list[str] = []
    baselines, data = _baselines(cfg, out) if cfg.baselines else ({}, [Path(cfg.benchmark)])
    data.append(Path(cfg.kg))
    verify = _statements(cfg) if "factverify" in cfg.tasks else None
    facts = _evaluated_facts(cfg, ["lama"]) if "linkpred" in cfg.tasks else []
    if verify is not None:
        baselines["factverify"] = Baseline(
            0.5, None, "accuracy", "Balanced true/corrupted statements: chance 50 %."
        )
    for task in cfg.tasks:
        spec = finetuner_spec(task)
        skipped = [s for s in cfg.settings if s not in spec.settings]
        if skipped and cfg.fusions:
            shared.append(f"{task}: not run with {', '.join(skipped)}: {spec.why}")
        if spec.seedless and len(cfg.seeds) > 1 and cfg.fusions:
            shared.append(f"{task}: run for seed {cfg.seeds[0]} only: nothing in it is random")
    for setting in cfg.settings:
        kg_dir = _kg_for(cfg, setting, out)
        if setting == "fact-removed":
            data.append(kg_dir)
        shared.append(f"{setting}: every task, fusion module and seed uses the KG {kg_dir}")
        for seed in cfg.seeds:
            kge = _train_kge(cfg, kg_dir, seed, out / "kge" / f"{setting}_seed{seed}")
            shared.append(
                f"{setting}, seed {seed}: one KGE run {kge} ({cfg.kge_config}) for linkpred and every fusion module"
            )
            for task in cfg.tasks:
                if task == "factverify":
                    res = _fact_verification(
                        cfg, verify, kge, setting, out / "runs" / f"factverify_{setting}_seed{seed}"
                    )
                    records.append(RunRecord.from_result(res, fusion="kge", seed=seed))
                    continue
                if task == "linkpred":
                    res = evaluate_linkpred(
                        kge, out / "runs" / f"linkpred_{setting}_seed{seed}", setting=setting
                    )
                    records.append(RunRecord.from_result(res, fusion="kge", seed=seed))
                    # the evaluated facts themselves: in the KG's train split, or removed from the KG
                    res = evaluate_linkpred(
                        kge,
                        out / "runs" / f"linkpred-facts_{setting}_seed{seed}",
                        split=f"{cfg.split}-facts",
                        setting=setting,
                        triples=fact_triples(KnowledgeGraph.load(cfg.kg), facts),
                        task="linkpred-facts",
                    )
                    records.append(RunRecord.from_result(res, fusion="kge", seed=seed))
                    continue
                spec = finetuner_spec(task)
                if setting not in spec.settings or (spec.seedless and seed != cfg.seeds[0]):
                    continue
                for fusion in cfg.fusions:
                    run_dir = out / "runs" / f"{task}_{fusion}_{setting}_seed{seed}"
                    res = FINETUNERS[task](cfg, task, fusion, seed, setting, kg_dir, kge, run_dir)
                    records.append(RunRecord.from_result(res, fusion=fusion, seed=seed))
    for fusion, ckpt in cfg.pretrained.items():
        shared.append(f"fusion {fusion}: every task, seed and setting starts from the checkpoint {ckpt}")
    config = config_dict if config_dict is not None else kemm_config.to_dict(cfg)
    kge_settings = kemm_config.to_dict(_kge_config(cfg, seed=cfg.seeds[0]))
    config = dict(config, kge=kge_settings, elapsed_seconds=round(time.perf_counter() - start, 1))
    return write_report(out, records, config, baselines, data=data, shared=shared)
