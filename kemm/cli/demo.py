"""``kemm demo``: the main job, every stage of the pipeline on the bundled data, in one command.

The demo is the sequence of kemm's own commands, run in this process and in this order:

1. ``kg``: ``kemm kg ingest`` the bundled commonsense KG, ``kemm kg split`` it;
2. ``kge``: ``kemm kge train`` the knowledge representation, with its filtered link-prediction figures;
3. ``benchmark``: ``kemm data make-benchmark`` (captions, objects, VQA, multiple choice, cloze);
   ``link``: ``kemm link batch`` grounds its multiple-choice questions in the KG (captions and
   detected objects are linked by the pre-training data step, questions again by fine-tuning);
4. ``pretrain-FUSION`` and ``pretrain-none``: ``kemm pretrain`` with the knowledge fusion module and
   its ``fusion: none`` twin, both starting from the KGE entity vectors;
5. ``evaluate``: ``kemm eval ablate`` fine-tunes both checkpoints on factual cloze, commonsense
   multiple choice and knowledge VQA and writes the report (JSON, Markdown, PNG plots).

Each stage writes the configs it runs into ``OUT/configs/`` and logs its command lines, so any
stage can be rerun alone. A finished stage leaves ``OUT/stages/NAME.json`` with the fingerprint
(:mod:`kemm.training.resume`) of its commands, its config files, its sources and the stages it
read; a rerun reuses a stage whose fingerprint still holds, resumes a training run cut short from
its last checkpoint, and redoes anything else. ``OUT/demo.log`` gets every stage and training
progress line, also when the terminal shows bars.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from kemm import config as kemm_config
from kemm.cli import demo_summary as summaries
from kemm.errors import KemmError
from kemm.training.resume import Fingerprint, ResumeMismatchError, RunFinishedError, checksum
from kemm.utils.io import atomic_write, sha256_file

logger = logging.getLogger("kemm.demo")
out = Console()
err = Console(stderr=True)


@dataclass
class DemoConfig:
    """The main job's settings; ``configs/demo.yaml`` holds exactly these fields.

    Each section holds the fields of the config its stage runs with; the demo fills in the paths
    that tie the stages together (the KG, the KGE run, the benchmark, the pre-trained checkpoints).

    Attributes:
        sources: the KG source files ingested into ``OUT/kg``, the KG of every later stage (the
            benchmark is built from it).
        bundled: sources ingested together into ``OUT/kg-bundled``, one store of every bundled
            KG for ``kemm kg`` and ``kemm link`` queries (empty: skipped).
        split_seed: seed of ``kemm kg split``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda``: every training stage.
        kge: :class:`kemm.embeddings.config.TrainConfig` fields of the KGE run.
        benchmark: ``kemm data make-benchmark`` options: ``scale``, ``seed``, ``image_size``, ``workers``.
        link: ``kemm link batch`` options: ``hops``, ``max_nodes``.
        fusion: the knowledge fusion module of the pre-training run; its twin has ``fusion: none``.
        fusion_options: options of that module's config (e.g. ``{mention_states: true}`` for
            ``gnn``), given to the knowledge run only; fine-tuning keeps the checkpoint's.
        pretrain: :class:`kemm.pretraining.config.PretrainConfig` fields, without ``data.train``,
            ``kg``, ``kge_run`` and ``model.fusion`` (the demo sets them).
        evaluation: :class:`kemm.evaluation.ablation.AblationConfig` fields, without ``benchmark``,
            ``kg``, ``fusions``, ``pretrained`` and ``kge_config`` (the demo sets them).
    """

    sources: list[str] = field(default_factory=lambda: ["knowledge_graphs/commonsense/commonsense.ttl"])
    bundled: list[str] = field(default_factory=list)
    split_seed: int = 0
    device: str = "auto"
    kge: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    link: dict[str, Any] = field(default_factory=dict)
    fusion: str = "gnn"
    fusion_options: dict[str, Any] = field(default_factory=dict)
    pretrain: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sources:
            raise KemmError("sources: at least one KG source file is needed")
        allowed = {
            "benchmark": {"scale", "seed", "image_size", "workers", "sprites"},
            "link": {"hops", "max_nodes"},
        }
        for section, keys in allowed.items():
            bad = sorted(set(getattr(self, section)) - keys)
            if bad:
                raise KemmError(f"{section}: unknown option {bad[0]!r}; allowed: {', '.join(sorted(keys))}")
        demo_sets = {"pretrain": ("kg", "kge_run"), "evaluation": _SET_BY_DEMO}
        for section, names in demo_sets.items():
            taken = [k for k in names if k in getattr(self, section)]
            if taken:
                raise KemmError(f"{section}.{taken[0]}: set by the demo; leave it out of the config")


#: AblationConfig fields the demo fills in
_SET_BY_DEMO = ("benchmark", "kg", "fusions", "pretrained", "kge_config")


def load_config(path: Path) -> DemoConfig:
    """The demo config of ``path``, every section checked against its stage's config class."""
    from kemm.embeddings.config import TrainConfig
    from kemm.evaluation.ablation import AblationConfig
    from kemm.pretraining.config import PretrainConfig

    raw = kemm_config.load_yaml(path)
    cfg = kemm_config.from_dict(DemoConfig, raw)
    try:  # misspelt keys and bad values of a stage are named before anything runs
        TrainConfig.from_dict(cfg.kge, path)
        for fusion in ("none", cfg.fusion):
            PretrainConfig.from_dict(_pretrain_dict(cfg, Path("OUT"), fusion), path)
        AblationConfig(**_evaluation_dict(cfg, Path("OUT")))
    except KemmError as e:
        raise (e if str(path) in str(e) else KemmError(f"{path}: {e}")) from None
    return cfg


# --------------------------------------------------------------------------------------------------
# the stage configs
# --------------------------------------------------------------------------------------------------


def _pretrain_dict(cfg: DemoConfig, root: Path, fusion: str) -> dict[str, Any]:
    d = json.loads(json.dumps(cfg.pretrain))  # a deep copy
    d.setdefault("data", {})["train"] = str(root / "benchmark")
    d["kg"] = str(root / "kg")
    d["kge_run"] = str(root / "kge")
    model = d.setdefault("model", {})
    model["fusion"] = fusion
    if fusion == cfg.fusion and cfg.fusion_options:
        model["fusion_options"] = {**model.get("fusion_options", {}), **cfg.fusion_options}
    d.setdefault("engine", {})["device"] = cfg.device
    return d


def _evaluation_dict(cfg: DemoConfig, root: Path) -> dict[str, Any]:
    d = json.loads(json.dumps(cfg.evaluation))
    d.update(
        benchmark=str(root / "benchmark"),
        kg=str(root / "kg"),
        fusions=["none", cfg.fusion],
        pretrained={f: str(root / f"pretrain-{f}") for f in ("none", cfg.fusion)},
        kge_config=str(root / "configs" / "kge.yaml"),
    )
    d.setdefault("finetune", {})["device"] = cfg.device
    return d


def _write_yaml(path: Path, data: dict[str, Any], what: str) -> None:
    with atomic_write(path) as f:
        f.write(f"# {what}; written by `kemm demo` from its config\n")
        yaml.safe_dump(data, f, sort_keys=False)


# --------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One step of the demo: kemm commands, what they write, what they read.

    Attributes:
        name: also the marker ``OUT/stages/NAME.json``.
        commands: argument lists of ``kemm`` commands, run in order.
        outputs: what the commands write; a stage not marked finished has them removed before a
            fresh run (unless its last command can resume).
        done: files that exist once the stage has finished (its summary reads them).
        inputs: files and folders whose checksums are part of the fingerprint (sources, configs).
        after: stages whose results this one reads (their fingerprints are part of this one's).
        resume: the checkpoint whose presence means the last command can continue, and the
            command-line flag that makes it continue.
        summary: the stage's headline figures, read from its outputs.
    """

    name: str
    commands: list[list[str]]
    outputs: list[Path]
    done: list[Path]
    inputs: list[Path] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    resume: tuple[Path, str] | None = None
    summary: Callable[[], dict[str, Any]] = dict


def _stages(cfg: DemoConfig, root: Path) -> list[Stage]:
    kg, kge, bench = root / "kg", root / "kge", root / "benchmark"
    configs = root / "configs"
    sources = [Path(s) for s in cfg.sources]
    bundled = [Path(s) for s in cfg.bundled]
    b = {"scale": 0.2, "seed": 0, "image_size": 224, "workers": 1, **cfg.benchmark}
    device = ["--device", cfg.device]
    stages = [
        Stage(
            "kg",
            [
                ["kg", "ingest", *map(str, sources), "--out", str(kg)],
                ["kg", "split", str(kg), "--seed", str(cfg.split_seed)],
                *(
                    [["kg", "ingest", *map(str, bundled), "--out", str(root / "kg-bundled")]]
                    if bundled
                    else []
                ),
            ],
            [kg, root / "kg-bundled"],
            [kg / "meta.json", kg / "splits", *([root / "kg-bundled" / "meta.json"] if bundled else [])],
            inputs=[*sources, *bundled],
            summary=lambda: summaries.kg(kg, root / "kg-bundled" if bundled else None),
        ),
        Stage(
            "kge",
            [
                [
                    "kge",
                    "train",
                    "--kg",
                    str(kg),
                    "--config",
                    str(configs / "kge.yaml"),
                    "--out",
                    str(kge),
                    *device,
                ]
            ],
            [kge],
            [kge / "metrics.json", kge / "model"],
            inputs=[configs / "kge.yaml"],
            after=["kg"],
            resume=(kge / "checkpoint", "--resume"),
            summary=lambda: summaries.kge(kge),
        ),
        Stage(
            "benchmark",
            [
                [
                    "data",
                    "make-benchmark",
                    *(a for s in sources for a in ("--kg", str(s))),
                    "--out",
                    str(bench),
                ]
                + [
                    a
                    for k in ("scale", "seed", "image_size", "workers", "sprites")
                    if k in b
                    for a in (f"--{k.replace('_', '-')}", str(b[k]))
                ]
            ],
            [bench],
            [bench / "stats.json"],
            inputs=sources,
            resume=(bench.parent / f".{bench.name}.checkpoint", "--resume"),
            summary=lambda: summaries.benchmark(bench),
        ),
        Stage(
            "link",
            [
                [
                    "link",
                    "batch",
                    str(bench / "csqa" / "test.jsonl"),
                    "--kg",
                    str(kg),
                    "--out",
                    str(root / "links" / "csqa_test.jsonl"),
                ]
                + [a for k, v in cfg.link.items() for a in (f"--{k.replace('_', '-')}", str(v))]
            ],
            [root / "links"],
            [root / "links" / "csqa_test.jsonl"],
            after=["kg", "benchmark"],
            summary=lambda: summaries.grounding(root / "links" / "csqa_test.jsonl"),
        ),
    ]
    for fusion in (cfg.fusion, "none"):
        run, conf = root / f"pretrain-{fusion}", configs / f"pretrain_{fusion}.yaml"
        stages.append(
            Stage(
                f"pretrain-{fusion}",
                [["pretrain", "--config", str(conf), "--out", str(run)]],
                [run],
                [run / "metrics.json", run / "model" / "config.json"],
                inputs=[conf],
                after=["kg", "kge", "benchmark"],
                resume=(run / "checkpoint", "--resume"),
                summary=functools.partial(summaries.pretrain, run),
            )
        )
    report = root / "report"
    stages.append(
        Stage(
            "evaluate",
            [["eval", "ablate", "--config", str(configs / "evaluation.yaml"), "--out", str(report)]],
            [],  # `kemm eval ablate` reuses its finished runs and resumes one cut short
            [report / "report.json"],
            inputs=[configs / "evaluation.yaml", configs / "kge.yaml"],
            after=["kg", "benchmark", f"pretrain-{cfg.fusion}", "pretrain-none"],
            summary=lambda: summaries.ablation(report, cfg.fusion),
        )
    )
    return stages


def _write_configs(cfg: DemoConfig, root: Path) -> None:
    configs = root / "configs"
    _write_yaml(configs / "kge.yaml", cfg.kge, "the KGE run (kemm kge train --config)")
    for fusion in (cfg.fusion, "none"):
        _write_yaml(
            configs / f"pretrain_{fusion}.yaml",
            _pretrain_dict(cfg, root, fusion),
            f"pre-training with fusion: {fusion} (kemm pretrain --config)",
        )
    _write_yaml(
        configs / "evaluation.yaml", _evaluation_dict(cfg, root), "the evaluation (kemm eval ablate --config)"
    )


def _invoke(argv: list[str]) -> None:
    """Run one ``kemm`` command in this process, as the console script would."""
    from kemm.cli import app

    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="kemm", standalone_mode=False)
    except SystemExit as e:  # typer.Exit from a command
        if e.code not in (0, None):
            raise KemmError(f"`kemm {' '.join(argv)}` exited with status {e.code}") from None


def _fingerprint(stage: Stage, root: Path) -> Fingerprint:
    inputs = {str(p): checksum(p) for p in stage.inputs}  # a file's bytes, a folder's files
    for name in stage.after:
        # the marker holds when the stage last ran: a stage redone makes the ones after it run again
        inputs[f"stage {name}"] = sha256_file(root / "stages" / f"{name}.json")
    return Fingerprint({"commands": stage.commands}, inputs)


def _done(stage: Stage, root: Path, fp: Fingerprint) -> bool:
    marker = root / "stages" / f"{stage.name}.json"
    if not marker.is_file():
        return False
    try:
        old = json.loads(marker.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    if old.get("digest") != fp.digest:
        logger.info(
            "stage %s: redone (%s)",
            stage.name,
            "; ".join(Fingerprint.from_dict(old.get("fingerprint", {})).differences(fp)) or "changed",
        )
        return False
    return all(p.exists() for p in stage.done)


def _run(stage: Stage) -> None:
    """Run the stage's commands: its last one continues from a checkpoint when one is there
    (with the same settings), else everything runs afresh."""
    *first, last = stage.commands
    checkpoint, flag = stage.resume or (None, "")
    if checkpoint is not None and checkpoint.exists():
        try:
            for argv in first:
                _invoke(argv)
            logger.info("stage %s: resuming from %s", stage.name, checkpoint)
            _invoke([*last, flag])
            return
        except RunFinishedError:  # finished, but killed before it wrote everything
            if all(p.exists() for p in stage.done):
                return
            logger.info("stage %s: finished without all of its outputs; starting afresh", stage.name)
        except ResumeMismatchError as e:
            logger.info("stage %s: cannot resume (%s); starting afresh", stage.name, e)
    for p in [*stage.outputs, *([checkpoint] if checkpoint is not None else [])]:
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
    for argv in stage.commands:
        _invoke(argv)


def run_demo(config: Path, root: Path) -> dict[str, Any]:
    """Run (or reuse) every stage of the demo into ``root``; return the headline figures."""
    cfg = load_config(config)
    root.mkdir(parents=True, exist_ok=True)
    _write_configs(cfg, root)
    figures: dict[str, Any] = {}
    timings: dict[str, float] = {}  # how long each stage took when it ran
    reused: list[str] = []
    stages = _stages(cfg, root)
    for i, stage in enumerate(stages, 1):
        fp = _fingerprint(stage, root)
        marker = root / "stages" / f"{stage.name}.json"
        start = time.perf_counter()
        err.rule(f"[bold]{i}/{len(stages)} {stage.name}")
        if _done(stage, root, fp):
            logger.info("stage %s: reused (finished earlier with the same commands and inputs)", stage.name)
            reused.append(stage.name)
            timings[stage.name] = json.loads(marker.read_text(encoding="utf-8")).get("seconds", 0.0)
        else:
            for argv in stage.commands:
                logger.info("stage %s: kemm %s", stage.name, " ".join(argv))
            _run(stage)
            timings[stage.name] = round(time.perf_counter() - start, 1)
            with atomic_write(marker) as f:
                json.dump(
                    {
                        "digest": fp.digest,
                        "finished": time.time(),
                        "seconds": timings[stage.name],
                        "fingerprint": fp.to_dict(),
                    },
                    f,
                    indent=2,
                )
            logger.info("stage %s: done in %.1f s", stage.name, timings[stage.name])
        figures[stage.name] = stage.summary()
        logging.getLogger("kemm.demo.progress").info(
            "stage %s: %s", stage.name, json.dumps(figures[stage.name])
        )
    return {"figures": figures, "seconds": timings, "reused": reused}


# --------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------


def demo(
    config: Path = typer.Option(Path("configs/demo.yaml"), "--config", "-c", help="The demo's settings."),
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder of every stage's output."),
) -> None:
    """The main job on the bundled data: KG -> embeddings -> benchmark and linking -> pre-training
    (knowledge and `fusion: none`) -> fine-tuning and evaluation -> one report. A rerun reuses
    every finished stage and resumes one cut short."""
    from kemm.cli import progress

    start = time.perf_counter()
    cfg = load_config(config)  # a bad config is one error before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out_dir / "demo.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.INFO)
    kemm_log = logging.getLogger("kemm")
    tee = logging.getLogger("kemm.demo.progress")  # progress lines for the log file while bars are shown
    tee.propagate = False
    tee.setLevel(logging.INFO)
    kemm_log.addHandler(handler)
    tee.addHandler(handler)
    progress.TEE.append(tee)
    try:
        logger.info("kemm demo --config %s --out %s", config, out_dir)
        result = run_demo(config, out_dir)
        result["total_seconds"] = round(time.perf_counter() - start, 1)
        report = out_dir / "report"
        summary_json, summary_md = summaries.write_summary(report, result, cfg.fusion)
        _print_headline(result, cfg.fusion)
        out.print(
            f"demo finished in {result['total_seconds'] / 60:.1f} min: the report is {report} "
            f"({summary_md.name}, {summary_json.name}, report.md, plots/); log {out_dir / 'demo.log'}"
        )
        logger.info("demo finished in %.1f s; report %s", result["total_seconds"], report)
    finally:
        progress.TEE.remove(tee)
        kemm_log.removeHandler(handler)
        tee.removeHandler(handler)
        handler.close()


def _print_headline(result: dict[str, Any], fusion: str) -> None:
    table = Table(title="kemm demo: headline figures")
    for col in summaries.headline_columns(fusion):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for row in summaries.headline_rows(result["figures"], fusion):
        table.add_row(row[0], *(summaries._fmt(v) for v in row[1:]))
    out.print(table)
