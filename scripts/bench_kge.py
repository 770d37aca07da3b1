"""Side-by-side KGE benchmark: kemm vs PyKEEN 1.11.1 (plus PyG's nn.kge.TransE and a bare PyTorch loop).

PyKEEN is never a kemm dependency: ``--setup`` creates ``.venv-bench/`` (gitignored) with
``torch==2.13.0 pykeen==1.11.1`` and kemm installed editable; the script then re-runs itself inside
that environment. Each (library, model, dataset) runs in its own subprocess, so its peak RSS is its own.

Same data (PyKEEN's shipped UMLS / Kinships / Nations files, or any directory of ``train.txt`` /
``valid.txt`` / ``test.txt`` TSV splits given with ``--tsv-dir``, ingested by kemm for kemm, PyG and
the bare loop), same hyperparameters, same filtered both-sided realistic-rank evaluation (filter:
train + valid + test). Reported: seconds per epoch, positive triples/s, peak RSS, test MRR and
Hits@10, evaluation seconds.

    python scripts/bench_kge.py --setup
    python scripts/bench_kge.py --datasets umls --models transe distmult rotate rgcn --epochs 100 \
        --out bench_results/kge_umls.json

On a large split (``scripts/build_wn18rr_like.py``: 112k entities, 213k training triples) PyKEEN's
dense Adam makes an epoch take minutes; ``--pykeen-steps`` times it on that many batches (of the
full vocabulary) and the throughput is what compares:

    python scripts/build_wn18rr_like.py --out bench_results/wn18rr_like
    BENCH_THREADS=1 python scripts/bench_kge.py --tsv-dir bench_results/wn18rr_like --models transe \
        --libraries kemm pykeen --epochs 3 --pykeen-epochs 1 --pykeen-steps 100 \
        --out bench_results/kge_wn18rr_like.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-bench"
PY = VENV / "bin" / "python"

# the reference setting: dim 128, Adam lr 0.01, batch 256, 1 negative/positive, margin loss
SHALLOW = {"dim": 128, "lr": 0.01, "batch_size": 256, "num_negatives": 1, "margin": 1.0}
# R-GCN (both libraries: 2 layers, basis decomposition with 4 bases, DistMult decoder, BCE, 8 negatives)
RGCN = {"dim": 64, "lr": 0.01, "batch_size": 1024, "num_negatives": 8, "num_layers": 2, "num_bases": 4}


def setup() -> None:
    if not PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PY), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0", "pykeen==1.11.1"], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    subprocess.run(
        [
            *pip,
            "torch-geometric",
            "numpy",
            "pyyaml",
            "safetensors",
            "tensorboardX",
            "rich",
            "typer",
            "faiss-cpu",
            "rdflib",
            "pyoxigraph",
        ],
        check=True,
    )


#: dataset name -> a TSV split directory given with --tsv-dir (the rest are PyKEEN's shipped ones)
TSV_DIRS: dict[str, Path] = {}


def dataset_dir(name: str) -> Path:
    if name in TSV_DIRS:
        return TSV_DIRS[name]
    import pykeen.datasets

    return Path(pykeen.datasets.__file__).parent / name


def kemm_kg(name: str, cache: Path):
    from kemm.kg import KnowledgeGraph, ingest

    out = cache / name
    if not (out / "meta.json").exists():
        kg, _ = ingest([dataset_dir(name)])
        kg.save(out)
    return KnowledgeGraph.load(out)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- workers (each runs in its own process) --------------------------------------------------
def run_kemm(model: str, ds: str, epochs: int, cache: Path, seed: int, opts: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from kemm.embeddings import build_model
    from kemm.embeddings.config import TrainConfig
    from kemm.embeddings.evaluation import evaluate
    from kemm.embeddings.training import train_model

    kg = kemm_kg(ds, cache)
    train = kg.split("train").astype(np.int64)
    known = np.concatenate([kg.split(s) for s in ("train", "valid", "test")]).astype(np.int64)
    if model == "rgcn":
        h = RGCN
        model_kwargs = {
            "dim": h["dim"],
            "num_layers": h["num_layers"],
            "num_bases": h["num_bases"],
            "dropout": 0.0,
        }
        loss: dict = {"loss": "bce"}
    else:
        h = SHALLOW
        model_kwargs = {"dim": h["dim"]} if model != "transe" else {"dim": h["dim"], "p": 1}
        loss = {"loss": "margin", "loss_kwargs": {"margin": h["margin"]}}
    cfg = TrainConfig(
        model=model,
        model_kwargs=model_kwargs,
        num_negatives=h["num_negatives"],
        corruption="uniform",
        lr=h["lr"],
        batch_size=h["batch_size"],
        epochs=epochs,
        seed=seed,
        tensorboard=False,
        **loss,
    )
    if model == "transe":  # the shipped config itself (the same settings as SHALLOW), checked
        import dataclasses

        shipped = TrainConfig.from_yaml(ROOT / "configs" / "kge" / "transe.yaml")
        shipped = dataclasses.replace(shipped, epochs=epochs, seed=seed, tensorboard=False)
        differ = {
            k for k, v in cfg.to_dict().items() if k != "checkpoint_every" and shipped.to_dict()[k] != v
        }
        assert differ <= {"model_kwargs"} and shipped.model_kwargs == {
            **model_kwargs,
            "normalize_entities": True,
        }
        cfg = shipped
    torch.manual_seed(seed)
    graph = (torch.from_numpy(train[:, [0, 2]].T.copy()), torch.from_numpy(train[:, 1].copy()))
    m = build_model(cfg.model, kg.num_entities, kg.num_relations, graph=graph, **cfg.model_kwargs)
    t0, c0 = time.perf_counter(), time.process_time()
    train_model(m, train, cfg)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "train_seconds": train_s,
        "cpu_train_seconds": cpu_s,
        "num_train": len(train),
        "num_entities": kg.num_entities,
    }
    if "kemm" not in opts.no_eval:
        c0 = time.process_time()
        res = evaluate(m, kg.split("test"), known)
        out.update(
            mrr=res.mrr,
            hits_at_10=res.both.hits_at_10,
            eval_seconds=res.seconds,
            cpu_eval_seconds=time.process_time() - c0,
            eval_ranks=res.both.count,
        )
    return out


def _cpu_timed(cls: type, method: str, into: dict) -> None:
    """Wrap ``cls.method`` so that its process CPU seconds land in ``into[method]``."""
    orig = getattr(cls, method)

    def timed(self, *args, **kwargs):
        c0 = time.process_time()
        try:
            return orig(self, *args, **kwargs)
        finally:
            into[method] = into.get(method, 0.0) + time.process_time() - c0

    setattr(cls, method, timed)


def run_pykeen(model: str, ds: str, epochs: int, cache: Path, seed: int, opts: argparse.Namespace) -> dict:
    import torch
    from pykeen.pipeline import pipeline
    from pykeen.triples import TriplesFactory

    d = dataset_dir(ds)
    train = TriplesFactory.from_path(d / "train.txt")
    valid = TriplesFactory.from_path(
        d / "valid.txt", entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
    )
    test = TriplesFactory.from_path(
        d / "test.txt", entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
    )
    if opts.pykeen_steps:  # a seeded subset of the training triples, the whole vocabulary kept
        keep = torch.randperm(train.num_triples, generator=torch.Generator().manual_seed(seed))
        train = train.clone_and_exchange_triples(
            train.mapped_triples[keep[: opts.pykeen_steps * SHALLOW["batch_size"]]]
        )
    if model == "rgcn":
        h = RGCN
        kw = dict(
            model="RGCN",
            model_kwargs=dict(
                embedding_dim=h["dim"],
                num_layers=h["num_layers"],
                decomposition="bases",
                decomposition_kwargs=dict(num_bases=h["num_bases"]),
                interaction="DistMult",
            ),
            loss="BCEWithLogitsLoss",
            negative_sampler_kwargs=dict(num_negs_per_pos=h["num_negatives"]),
        )
    else:
        h = SHALLOW
        name = {"transe": "TransE", "distmult": "DistMult", "rotate": "RotatE", "complex": "ComplEx"}[model]
        mk: dict = {"embedding_dim": h["dim"]}
        if model == "transe":
            mk["scoring_fct_norm"] = 1
        if model == "distmult":  # the same model as kemm's: no relation regulariser, no entity constraint
            mk.update(regularizer=None, entity_constrainer=None)
        kw = dict(
            model=name,
            model_kwargs=mk,
            loss="MarginRankingLoss",
            loss_kwargs=dict(margin=h["margin"]),
            negative_sampler_kwargs=dict(num_negs_per_pos=h["num_negatives"]),
        )
    if "pykeen" in opts.no_eval:  # evaluate on one triple: the pipeline insists on a test set
        test = test.clone_and_exchange_triples(test.mapped_triples[:1])
    from pykeen.evaluation import Evaluator
    from pykeen.training import TrainingLoop

    cpu: dict[str, float] = {}
    _cpu_timed(TrainingLoop, "train", cpu)
    _cpu_timed(Evaluator, "evaluate", cpu)
    res = pipeline(
        training=train,
        validation=valid,
        testing=test,
        optimizer="Adam",
        optimizer_kwargs=dict(lr=h["lr"]),
        training_loop="sLCWA",
        negative_sampler="basic",
        training_kwargs=dict(num_epochs=epochs, batch_size=h["batch_size"], use_tqdm=False),
        evaluator="RankBasedEvaluator",
        evaluator_kwargs=dict(filtered=True),
        evaluation_kwargs=dict(use_tqdm=False),
        random_seed=seed,
        device="cpu",
        **kw,
    )
    mr = res.metric_results
    out = {
        "train_seconds": res.train_seconds,
        "cpu_train_seconds": cpu["train"],
        "num_train": train.num_triples,
        "num_entities": train.num_entities,
    }
    if "pykeen" not in opts.no_eval:
        out.update(
            mrr=float(mr.get_metric("both.realistic.inverse_harmonic_mean_rank")),
            hits_at_10=float(mr.get_metric("both.realistic.hits_at_10")),
            eval_seconds=res.evaluate_seconds,
            cpu_eval_seconds=cpu["evaluate"],
            eval_ranks=2 * test.num_triples,
        )
    return out


def _transe_adapter(ent, rel, p: int, normalize: bool):
    import torch
    import torch.nn.functional as F

    from kemm.embeddings.base import KGEModel

    class Adapter(KGEModel):
        config_class = dict

        def __init__(self):
            super().__init__(ent.shape[0], rel.shape[0], {})
            self.e = torch.nn.Parameter(F.normalize(ent, dim=-1) if normalize else ent)
            self.r = torch.nn.Parameter(rel)

        def score_t(self, h, r):
            return -torch.cdist(self.e[h] + self.r[r], self.e, p=p)

        def score_h(self, r, t):
            return -torch.cdist(self.e[t] - self.r[r], self.e, p=p)

    return Adapter()


def _baseline_data(ds: str, cache: Path, seed: int):
    """Seeded torch, the KG, its train triples as a tensor and the filter set (train + valid + test)."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    kg = kemm_kg(ds, cache)
    train = torch.from_numpy(kg.split("train").astype(np.int64))
    known = np.concatenate([kg.split(s) for s in ("train", "valid", "test")]).astype(np.int64)
    return kg, train, known


def _evaluate_transe(kg, known, ent, rel, train_s: float, num_train: int) -> dict:
    """Filtered evaluation of raw TransE tables with kemm's evaluator (the same for every library)."""
    from kemm.embeddings.evaluation import evaluate

    res = evaluate(_transe_adapter(ent, rel, 1, True), kg.split("test"), known)
    return {
        "train_seconds": train_s,
        "num_train": num_train,
        "mrr": res.mrr,
        "hits_at_10": res.both.hits_at_10,
        "eval_seconds": res.seconds,
    }


def run_pyg(model: str, ds: str, epochs: int, cache: Path, seed: int, opts: argparse.Namespace) -> dict:
    import torch
    from torch_geometric.nn.kge import TransE

    kg, train, known = _baseline_data(ds, cache, seed)
    h = SHALLOW
    m = TransE(kg.num_entities, kg.num_relations, hidden_channels=h["dim"], margin=h["margin"], p_norm=1.0)
    loader = m.loader(
        head_index=train[:, 0],
        rel_type=train[:, 1],
        tail_index=train[:, 2],
        batch_size=h["batch_size"],
        shuffle=True,
    )
    opt = torch.optim.Adam(m.parameters(), lr=h["lr"])
    t0 = time.perf_counter()
    for _ in range(epochs):
        for hh, rr, tt in loader:
            opt.zero_grad()
            m.loss(hh, rr, tt).backward()
            opt.step()
    train_s = time.perf_counter() - t0
    return _evaluate_transe(
        kg, known, m.node_emb.weight.detach(), m.rel_emb.weight.detach(), train_s, len(train)
    )


def run_bare(model: str, ds: str, epochs: int, cache: Path, seed: int, opts: argparse.Namespace) -> dict:
    """A bare PyTorch TransE loop: the floor any framework overhead is measured against."""
    import torch
    import torch.nn.functional as F

    kg, train, known = _baseline_data(ds, cache, seed)
    h = SHALLOW
    ent = torch.nn.Embedding(kg.num_entities, h["dim"])
    rel = torch.nn.Embedding(kg.num_relations, h["dim"])
    torch.nn.init.xavier_uniform_(ent.weight)
    torch.nn.init.xavier_uniform_(rel.weight)
    opt = torch.optim.Adam([ent.weight, rel.weight], lr=h["lr"])

    def score(a, r, b):
        return -torch.linalg.vector_norm(
            F.normalize(ent(a), dim=-1) + rel(r) - F.normalize(ent(b), dim=-1), 1, -1
        )

    b = h["batch_size"]
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(train))
        for i in range(0, len(train), b):
            pos = train[perm[i : i + b]]
            corrupt = torch.randint(kg.num_entities, (len(pos),))
            head = torch.rand(len(pos)) < 0.5
            nh = torch.where(head, corrupt, pos[:, 0])
            nt = torch.where(head, pos[:, 2], corrupt)
            loss = F.relu(
                h["margin"] - score(pos[:, 0], pos[:, 1], pos[:, 2]) + score(nh, pos[:, 1], nt)
            ).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    return _evaluate_transe(kg, known, ent.weight.detach(), rel.weight.detach(), train_s, len(train))


WORKERS = {"kemm": run_kemm, "pykeen": run_pykeen, "pyg": run_pyg, "bare": run_bare}


def worker(
    lib: str, model: str, ds: str, epochs: int, cache: Path, seed: int, opts: argparse.Namespace
) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    out = WORKERS[lib](model, ds, epochs, cache, seed, opts)
    out.update(
        {
            "library": lib,
            "model": model,
            "dataset": ds,
            "epochs": epochs,
            "seconds_per_epoch": out["train_seconds"] / epochs,
            "triples_per_second": out["num_train"] * epochs / out["train_seconds"],
            # CPU seconds of the process: what a shared machine's other load moves least
            "cpu_triples_per_second": out["num_train"] * epochs / out["cpu_train_seconds"]
            if "cpu_train_seconds" in out
            else None,
            "threads": torch.get_num_threads(),
            "peak_rss_mib": peak_rss_mib(),
        }
    )
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setup", action="store_true", help="create .venv-bench with PyKEEN and exit")
    ap.add_argument("--datasets", nargs="*", default=None, choices=["umls", "kinships", "nations"])
    ap.add_argument(
        "--tsv-dir",
        nargs="+",
        type=Path,
        default=[],
        help="TSV split directories (train.txt, valid.txt, test.txt) to run besides --datasets",
    )
    ap.add_argument(
        "--pykeen-steps", type=int, default=0, help="train PyKEEN on this many batches per epoch (0: all)"
    )
    ap.add_argument("--pykeen-epochs", type=int, default=0, help="epochs for PyKEEN (0: as --epochs)")
    ap.add_argument("--no-eval", nargs="*", default=[], help="libraries whose test evaluation is skipped")
    ap.add_argument("--models", nargs="+", default=["transe", "distmult", "rotate", "rgcn"])
    ap.add_argument("--libraries", nargs="+", default=["kemm", "pykeen", "pyg", "bare"])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--rgcn-epochs", type=int, default=20, help="epochs for R-GCN (full-graph, slow in both)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench_results" / "kg")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_results" / "kge.json")
    ap.add_argument(
        "--worker", nargs=4, metavar=("LIB", "MODEL", "DATASET", "EPOCHS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    for d in args.tsv_dir:
        TSV_DIRS[d.resolve().name] = d.resolve()
    datasets = (args.datasets if args.datasets is not None else ([] if args.tsv_dir else ["umls"])) + list(
        TSV_DIRS
    )
    if args.setup:
        setup()
        return
    try:
        import pykeen  # noqa: F401
    except ImportError:
        if not PY.exists():
            sys.exit("PyKEEN is not importable here; run `python scripts/bench_kge.py --setup` first")
        os.execv(str(PY), [str(PY), *sys.argv])
    if args.worker:
        lib, model, ds, epochs = args.worker
        worker(lib, model, ds, int(epochs), args.cache, args.seed, args)
        return
    rows = []
    for ds in datasets:
        for model in args.models:
            for lib in args.libraries:
                if lib in ("pyg", "bare") and model != "transe":
                    continue
                epochs = args.rgcn_epochs if model == "rgcn" else args.epochs
                if lib == "pykeen" and args.pykeen_epochs:
                    epochs = args.pykeen_epochs
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    lib,
                    model,
                    ds,
                    str(epochs),
                    "--cache",
                    str(args.cache),
                    "--seed",
                    str(args.seed),
                    "--pykeen-steps",
                    str(args.pykeen_steps),
                    *(["--tsv-dir", *map(str, args.tsv_dir)] if args.tsv_dir else []),
                    *(["--no-eval", *args.no_eval] if args.no_eval else []),
                ]
                print(f"{ds} {model} {lib} ({epochs} epochs) ...", file=sys.stderr, flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True)
                line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if proc.returncode or not line:
                    rows.append({"library": lib, "model": model, "dataset": ds, "error": proc.stderr[-2000:]})
                    print(proc.stderr[-2000:], file=sys.stderr)
                    continue
                row = json.loads(line[0][7:])
                rows.append(row)
                quality = (
                    f"MRR {row['mrr']:.4f}  H@10 {row['hits_at_10']:.4f}  "
                    f"eval {row['eval_seconds']:.3f}s ({row['eval_ranks']} ranks)  "
                    if "mrr" in row
                    else ""
                )
                cpu_tps = row.get("cpu_triples_per_second")
                print(
                    f"  {row['triples_per_second']:,.0f} triples/s "
                    f"({cpu_tps or float('nan'):,.0f} per CPU second)  {row['seconds_per_epoch']:.3f} s/epoch  "
                    f"{quality}peak {row['peak_rss_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                args.out.parent.mkdir(parents=True, exist_ok=True)
                tmp = args.out.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps(
                        {
                            "command": " ".join(sys.argv),
                            "threads": os.environ.get("BENCH_THREADS", os.cpu_count()),
                            "shallow": SHALLOW,
                            "rgcn": RGCN,
                            "results": rows,
                            "kemm_over_pykeen": ratios(rows),
                            "kemm_over_pykeen_cpu": ratios(rows, "cpu_triples_per_second"),
                        },
                        indent=2,
                    )
                )
                os.replace(tmp, args.out)
    cpu_ratios = ratios(rows, "cpu_triples_per_second")
    for key, ratio in ratios(rows).items():
        print(
            f"{key}: kemm / PyKEEN triples/s = {ratio:.1f}x (per CPU second {cpu_ratios.get(key, float('nan')):.1f}x)",
            file=sys.stderr,
        )


def ratios(rows: list[dict], key: str = "triples_per_second") -> dict[str, float]:
    """``"dataset model"`` -> kemm's training throughput over PyKEEN's (both measured in this run)."""
    tps = {(r["dataset"], r["model"], r["library"]): r.get(key) for r in rows}
    return {
        f"{ds} {model}": tps[ds, model, "kemm"] / tps[ds, model, "pykeen"]
        for ds, model, lib in tps
        if lib == "kemm" and tps.get((ds, model, "pykeen")) and tps[ds, model, "kemm"]
    }


if __name__ == "__main__":
    main()
