"""Model speed, side by side in one run: kemm's single-stream model vs Hugging Face ``ViltModel``,
and the cost of each knowledge fusion module over ``fusion: none``.

1. kemm single-stream, ``fusion: none``, against ``ViltModel`` of the same size (hidden, layers,
   heads, FFN, image and patch size, dropout 0.1) on the same inputs (text + image): forward +
   backward samples/s. ViLT's attention is eager (it has no SDPA path), so the head-to-head runs
   kemm with eager attention too; kemm's default SDPA is reported beside it.
2. Every registered fusion module (:data:`kemm.models.fusion.FUSION`) at the same size on the same
   batch (text + image + object regions + linked mentions with candidates + subgraphs): samples/s
   and the overhead over ``fusion: none`` on that batch.
3. Peak memory per sample of each configuration: on CPU the RSS high-water mark of a
   forward + backward over the RSS before it (sampled every millisecond, one subprocess per
   configuration, so no run sees another's allocations), divided by the batch size; on CUDA
   ``torch.cuda.max_memory_allocated`` over the memory before the step.

Timing alternates the configurations (their order rotated every repeat) so that load on a shared
machine hits all alike, and reports the median over repeats.

On CUDA (``--device cuda``): bf16 autocast, and MFU = (6 x trainable parameters x tokens +
12 x layers x hidden x tokens^2 attention FLOPs, forward + backward) x samples/s over the
data-sheet dense bf16 peak of an H100 / H200 SXM, 989 TFLOP/s. ``--size base`` is ViLT-B/32
(hidden 768, 12 layers, 384-px images, 32-px patches, 40 text tokens, batch 32).

    python scripts/bench_models.py --out bench_results/models.json            # CPU, moderate size
    python scripts/bench_models.py --device cuda --size base --out bench_results/models_cuda.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("bench_models")
PEAK_FLOPS = 989e12  # H100 / H200 SXM dense bf16, data sheet

SIZES = {
    "moderate": {
        "hidden": 256,
        "layers": 4,
        "heads": 4,
        "image_size": 96,
        "patch_size": 16,
        "text_len": 32,
        "batch": 16,
    },
    "base": {
        "hidden": 768,
        "layers": 12,
        "heads": 12,
        "image_size": 384,
        "patch_size": 32,
        "text_len": 40,
        "batch": 32,
    },
}
VOCAB = 30522


def text_config(a) -> dict:
    return {
        "hidden_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "intermediate_size": 4 * a.hidden,
        "vocab_size": VOCAB,
        "max_position_embeddings": max(a.text_len, 40),
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }


def vision_config(a) -> dict:
    return {
        "hidden_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "intermediate_size": 4 * a.hidden,
        "image_size": a.image_size,
        "patch_size": a.patch_size,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }


def build(a, name: str):
    """``vilt`` or ``kemm-<fusion>[-eager]``; returns (model, batch kind)."""
    torch.manual_seed(0)
    if name == "vilt":
        from transformers import ViltConfig, ViltModel

        cfg = ViltConfig(
            **{k: v for k, v in text_config(a).items()}, image_size=a.image_size, patch_size=a.patch_size
        )
        return ViltModel(cfg), "plain"
    from kemm.models import build_model
    from kemm.models.entities import EntityEmbeddings

    fusion = name.removeprefix("kemm-").removesuffix("-eager").removesuffix("-plain")
    entities = EntityEmbeddings.from_tensor(torch.randn(a.entities, a.entity_dim), mode="frozen")
    model = build_model(
        "single-stream",
        entities=entities,
        text=text_config(a),
        vision=vision_config(a),
        fusion=fusion,
        num_relations=a.relations,
    )
    model.text.set_attn_implementation("eager" if name.endswith("-eager") else a.attn)
    return model, ("plain" if name.endswith(("-eager", "-plain")) else "knowledge")


def batch(a, kind: str, for_vilt: bool, device: str) -> dict:
    g = torch.Generator().manual_seed(0)
    b, s = a.batch, a.image_size
    out = {
        "input_ids": torch.randint(1000, VOCAB, (b, a.text_len), generator=g),
        "attention_mask": torch.ones(b, a.text_len, dtype=torch.long),
        "pixel_values": torch.randn(b, 3, s, s, generator=g),
    }
    if for_vilt:
        out["pixel_mask"] = torch.ones(b, s, s, dtype=torch.long)
    if kind == "knowledge":
        from kemm.models.knowledge import ExampleKnowledge, KnowledgeBatch, Mention

        boxes = torch.rand(b, a.regions, 4, generator=g) * s / 2
        boxes[..., 2:] += boxes[..., :2] + s / 8  # (x0, y0, x1, y1), each at least s/8 wide
        out["boxes"] = boxes.clamp(max=s)
        examples = []
        for _ in range(b):
            ids = torch.randint(a.entities, (a.mentions + a.nodes,), generator=g).tolist()
            mentions = [
                Mention(ids[j], "text", start=1 + 2 * j, end=3 + 2 * j, candidates=ids[j : j + a.candidates])
                for j in range(a.mentions - 1)
            ] + [Mention(ids[a.mentions], "region", region=0, candidates=ids[: a.candidates])]
            nodes = ids[a.mentions :]
            edges = [
                (int(h), int(r), int(t))
                for h, r, t in zip(
                    torch.randint(a.nodes, (a.edges,), generator=g),
                    torch.randint(a.relations, (a.edges,), generator=g),
                    torch.randint(a.nodes, (a.edges,), generator=g),
                )
            ]
            types = ["question"] * 3 + ["answer"] * 2 + ["other"] * (a.nodes - 5)
            examples.append(ExampleKnowledge(mentions, nodes, types, edges))
        out["knowledge"] = KnowledgeBatch.collate(examples, with_graph=True)
    return {k: v.to(device) for k, v in out.items()}


def step(model, inputs: dict, device: str) -> None:
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        out = model(**inputs)
        loss = out.last_hidden_state.float().pow(2).mean() + out.pooler_output.float().pow(2).mean()
    loss.backward()
    model.zero_grad(set_to_none=True)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def tokens_of(model, inputs: dict) -> int:
    with torch.no_grad():
        out = model(**inputs)
    return int(out.last_hidden_state.shape[1])


def flops_per_sample(model, a, tokens: int) -> float:
    """6 x trainable non-embedding parameters x tokens + attention (12 x layers x hidden x tokens^2),
    forward + backward (embedding tables are look-ups, not matmuls; nanoGPT / PaLM counting)."""
    lookups = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    params = sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in lookups)
    return 6.0 * params * tokens + 12.0 * a.layers * a.hidden * tokens**2


def measure_memory(a, name: str) -> float:
    """Peak bytes per sample of one forward + backward (runs in its own process on CPU)."""
    import psutil

    model, kind = build(a, name)
    model.to(a.device).train()
    inputs = batch(a, kind, name == "vilt", a.device)
    step(model, inputs, a.device)  # warm-up: allocator pools, lazy buffers
    sync(a.device)
    if a.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step(model, inputs, a.device)
        sync(a.device)
        return (torch.cuda.max_memory_allocated() - before) / a.batch
    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    for _ in range(2):
        step(model, inputs, a.device)
    done.set()
    thread.join()
    return (peak[0] - before) / a.batch


def memory_in_subprocess(args_list: list[str], name: str) -> float:
    cmd = [sys.executable, __file__, *args_list, "--measure-memory", name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["bytes_per_sample"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="moderate")
    for key in SIZES["moderate"]:
        p.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    p.add_argument("--regions", type=int, default=4)
    p.add_argument("--mentions", type=int, default=4, help="per example: 3 text spans + 1 object region")
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--nodes", type=int, default=24, help="subgraph nodes per example (plus the context node)")
    p.add_argument("--edges", type=int, default=48)
    p.add_argument("--entities", type=int, default=2000)
    p.add_argument("--entity-dim", type=int, default=64)
    p.add_argument("--relations", type=int, default=10)
    p.add_argument(
        "--attn", default="sdpa", help="kemm's attention implementation outside the eager head-to-head"
    )
    p.add_argument("--fusions", nargs="*", default=None, help="default: every registered fusion module")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="forward + backward steps per timed repeat")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--measure-memory", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=ROOT / "bench_results" / "models.json")
    a = p.parse_args(argv)
    for key, value in SIZES[a.size].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if a.threads:
        torch.set_num_threads(a.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("kemm").setLevel(logging.WARNING)
    if a.measure_memory:
        print(json.dumps({"bytes_per_sample": measure_memory(a, a.measure_memory)}))
        return

    from kemm.models.fusion import FUSION

    fusions = a.fusions or FUSION.names()
    names = ["vilt", "kemm-none-eager", "kemm-none-plain"] + [f"kemm-{f}" for f in fusions]
    models, inputs = {}, {}
    for name in names:
        model, kind = build(a, name)
        models[name] = model.to(a.device).train()
        inputs[name] = batch(a, kind, name == "vilt", a.device)
        step(models[name], inputs[name], a.device)  # warm-up
    sync(a.device)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(a.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            sync(a.device)
            t0 = time.perf_counter()
            for _ in range(a.steps):
                step(models[name], inputs[name], a.device)
            sync(a.device)
            times[name].append(a.steps * a.batch / (time.perf_counter() - t0))
        logger.info("repeat %d/%d done", r + 1, a.repeats)

    forwarded = [x for x in (argv if argv is not None else sys.argv[1:]) if x != "--no-memory"]
    results = {}
    for name in names:
        model = models[name]
        tokens = tokens_of(model.eval(), inputs[name])
        model.train()
        sps = statistics.median(times[name])
        row = {
            "samples_per_s": round(sps, 2),
            "samples_per_s_all": [round(t, 2) for t in times[name]],
            "tokens": tokens,
            "trainable_parameters": sum(q.numel() for q in model.parameters() if q.requires_grad),
            "flops_per_sample": flops_per_sample(model, a, tokens),
        }
        if a.device == "cuda":
            row["mfu"] = round(row["flops_per_sample"] * sps / PEAK_FLOPS, 4)
        if not a.no_memory:
            if a.device == "cuda":
                mem = measure_memory(a, name)
            else:
                mem = memory_in_subprocess(forwarded, name)
            row["peak_mib_per_sample"] = round(mem / 2**20, 2)
        results[name] = row
        logger.info("%-20s %8.1f samples/s  %s", name, sps, row.get("peak_mib_per_sample", ""))
    base = results["kemm-none"]["samples_per_s"] if "kemm-none" in results else None
    report = {
        "setup": {k: v for k, v in vars(a).items() if k not in ("out", "measure_memory")}
        | {"torch": torch.__version__, "threads": torch.get_num_threads(), "peak_flops": PEAK_FLOPS},
        "results": results,
        "kemm_none_eager_vs_vilt": round(
            results["kemm-none-eager"]["samples_per_s"] / results["vilt"]["samples_per_s"], 3
        ),
        # kemm / ViLT within each repeat (timed in the same round), then the median: less exposed to load drift
        "paired_kemm_eager_vs_vilt": round(
            statistics.median(k / v for k, v in zip(times["kemm-none-eager"], times["vilt"])),
            3,
        ),
        "kemm_none_sdpa_vs_vilt": round(
            results["kemm-none-plain"]["samples_per_s"] / results["vilt"]["samples_per_s"], 3
        ),
        "fusion_overhead_pct": {
            f: round(100 * (1 - results[f"kemm-{f}"]["samples_per_s"] / base), 1) for f in fusions if base
        },
        # what each module's own arithmetic adds (FLOPs per sample over fusion: none): the part of the
        # overhead that is the module's computation rather than the framework
        "fusion_flops_added_pct": {
            f: round(
                100
                * (results[f"kemm-{f}"]["flops_per_sample"] / results["kemm-none"]["flops_per_sample"] - 1),
                1,
            )
            for f in fusions
            if base
        },
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %s", a.out)


if __name__ == "__main__":
    main()
