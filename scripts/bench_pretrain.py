"""Pre-training speed: kemm's step against a bare PyTorch loop, samples/s with and without fusion.

    python scripts/bench_pretrain.py --config configs/pretrain/small.yaml --steps 20 --out bench_results/pretrain.json

1. **kemm vs bare loop.** The same HF modules (the kemm single-stream backbone: BERT layers, ViT
   layers, ERNIE fusion) on the same in-memory batches, with the objectives ITC + ITM (hard
   negatives) + MLM: once through kemm (objectives, ``PretrainTask``, ``Engine``), once through a
   plain loop that writes those three losses out inline with the same heads. Repeats alternate the
   two; the medians of wall and CPU seconds per step are reported, and their ratio.
2. **samples/s of the config** (all six objectives) with its fusion module and with ``fusion: none``,
   on the same batches (the model step; data loading apart), and the data-wait fraction of the
   real runs when their ``metrics.json`` is found (``--runs``).
3. **GPU** (when CUDA is available): the base config's bf16 samples/s, MFU (model FLOPs of one step
   from ``torch.utils.flop_counter`` over the GPU's peak bf16 rate) and the data-wait fraction of
   a short run through the real ``DataLoader``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.data import Collator, PairDataset, PairProcessor, link_pairs, read_pairs
from kemm.pretraining.objectives import HostSizes, build_objective
from kemm.pretraining.run import build_backbone, build_entities, load_kg, load_tokenizer
from kemm.pretraining.task import PretrainModel, PretrainTask
from kemm.training import Engine, EngineConfig

#: peak dense bf16 tensor FLOP/s by device name fragment (vendor data sheets)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def setup(cfg: PretrainConfig, n_pairs: int, fusion: str | None = None):
    """Backbone, host sizes, tokenizer and an in-memory dataset of the config's first pairs."""
    if fusion is not None:
        cfg = cfg.replace(model={**cfg.model, "fusion": fusion})
    data = dataclasses.replace(cfg.data.resolved(), limit=n_pairs)
    kg = load_kg(cfg.kg)
    split = read_pairs(data.train, data.reader, data.images_dir, data.instances, "none", limit=n_pairs)
    know = link_pairs(split, kg, cfg.kg, data)
    tok = load_tokenizer(cfg.tokenizer, cfg.model.get("text"))
    torch.manual_seed(0)
    entities = build_entities(cfg, kg)
    backbone = build_backbone(cfg, kg, tok, entities)
    host = HostSizes(
        backbone.text.config.hidden_size,
        len(tok),
        kg.num_entities,
        int(entities.entity_dim),
        kg.num_relations,
        tok,
    )
    size = backbone.vision_config.image_size
    ds = PairDataset(
        split,
        know,
        PairProcessor(tok, size, data.max_length, data.max_regions),
        data.region_mentions,
        data.graph,
    )
    return cfg, backbone, host, tok, ds, Collator(tok.pad_token_id or 0, data.graph)


def batches(ds, collate, batch_size: int, steps: int):
    return [collate([ds[(s * batch_size + i) % len(ds)] for i in range(batch_size)]) for s in range(steps)]


class ListTask(PretrainTask):
    """A PretrainTask over batches held in memory (so that only the step is timed)."""

    def __init__(self, model, data, **kw):
        super().__init__(model, None, None, len(data[0].input_ids), **kw)  # type: ignore[arg-type]
        self.data = data

    def train_batches(self, epoch, ctx):
        return self.data

    def num_batches(self, epoch, ctx):
        return len(self.data)


def kemm_steps(backbone, host, names, data, lr, device, precision="fp32") -> tuple[float, float]:
    """(wall s/step, CPU s/step) of kemm's engine over ``data``."""
    objs = {n: build_objective(n, {}, host) for n in names}
    model = PretrainModel(backbone, objs)
    task = ListTask(model, data, optimizer="adamw", optimizer_options={"lr": lr})
    eng = EngineConfig(
        max_epochs=1,
        validate_every=0,
        tensorboard=False,
        device=device,
        precision=precision,
        clip_grad_norm=5.0,
    )
    t, c = time.perf_counter(), time.process_time()
    Engine(task, eng, None, progress=[]).fit()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / len(data), (time.process_time() - c) / len(data)


class BareHeads(torch.nn.Module):
    """The heads of ITC, ITM and MLM, written out (the same shapes as kemm's)."""

    def __init__(self, hidden: int, vocab: int, embed: int = 256) -> None:
        super().__init__()
        self.text_proj = torch.nn.Linear(hidden, embed)
        self.vision_proj = torch.nn.Linear(hidden, embed)
        self.temp = torch.nn.Parameter(torch.tensor(0.07))
        self.itm = torch.nn.Linear(hidden, 2)
        self.mlm_dense = torch.nn.Linear(hidden, hidden)
        self.mlm_norm = torch.nn.LayerNorm(hidden)
        self.mlm_bias = torch.nn.Parameter(torch.zeros(vocab))


def bare_steps(backbone, host, data, lr, device) -> tuple[float, float]:
    """The same three objectives in a plain loop over the same HF modules."""
    dev = torch.device(device)
    heads = BareHeads(host.hidden_size, host.vocab_size).to(dev)
    backbone = backbone.to(dev).train()
    params = list(backbone.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=lr)
    special = torch.tensor(host.tokenizer.all_special_ids)
    mask_id = host.tokenizer.mask_token_id
    g = torch.Generator().manual_seed(0)
    t, c = time.perf_counter(), time.process_time()
    for b in data:
        # MLM masking, 80/10/10, on the CPU generator
        ids = b.input_ids
        labels = ids.clone()
        chosen = (
            (torch.rand(ids.shape, generator=g) < 0.15) & ~torch.isin(ids, special) & (b.attention_mask > 0)
        )
        labels[~chosen] = -100
        u = torch.rand(ids.shape, generator=g)
        masked = ids.masked_fill(chosen & (u < 0.8), mask_id)
        rnd = torch.randint(host.vocab_size, ids.shape, generator=g)
        masked = torch.where(chosen & (u >= 0.8) & (u < 0.9), rnd, masked)
        b = b.to(dev)
        kb = b.knowledge
        common = {
            "pixel_values": b.pixel_values,
            "boxes": b.boxes,
            "region_mask": b.region_mask,
            "knowledge": kb,
        }
        # ITC
        with torch.no_grad():
            heads.temp.clamp_(0.001, 0.5)
        txt = backbone(
            input_ids=b.input_ids, attention_mask=b.attention_mask, knowledge=kb
        ).last_hidden_state[:, 0]
        img = backbone.encode_image(b.pixel_values)[:, 0]
        t_e = F.normalize(heads.text_proj(txt), dim=-1)
        v_e = F.normalize(heads.vision_proj(img), dim=-1)
        same = (b.image_ids[:, None] == b.image_ids[None, :]).float()
        tgt = same / same.sum(1, keepdim=True)
        s_i2t, s_t2i = v_e @ t_e.T / heads.temp, t_e @ v_e.T / heads.temp
        itc = (
            -(F.log_softmax(s_i2t, 1) * tgt).sum(1).mean() - (F.log_softmax(s_t2i, 1) * tgt).sum(1).mean()
        ) / 2
        # ITM with hard negatives from the similarities, same-image pairs excluded
        w_t = (F.softmax(s_t2i.detach().float(), 1) + 1e-5).masked_fill(same.bool(), 0).cpu()
        w_i = (F.softmax(s_i2t.detach().float(), 1) + 1e-5).masked_fill(same.bool(), 0).cpu()
        w_t[w_t.sum(1) == 0] = 1.0
        w_i[w_i.sum(1) == 0] = 1.0
        neg_img = torch.multinomial(w_t, 1, generator=g).squeeze(1).to(dev)
        neg_txt = torch.multinomial(w_i, 1, generator=g).squeeze(1).to(dev)
        pos = backbone(input_ids=b.input_ids, attention_mask=b.attention_mask, **common).last_hidden_state[
            :, 0
        ]
        from kemm.pretraining.objectives.itm import pair_batch

        rows = torch.arange(len(ids), device=dev)
        neg = pair_batch(b, torch.cat([rows, neg_txt]), torch.cat([neg_img, rows]))
        neg_cls = backbone(**neg.model_inputs()).last_hidden_state[:, 0]
        logits = heads.itm(torch.cat([pos, neg_cls]))
        itm_labels = torch.cat([torch.ones(len(ids)), torch.zeros(2 * len(ids))]).long().to(dev)
        itm = F.cross_entropy(logits.float(), itm_labels)
        # MLM on the joint sequence, decoder tied to the word embeddings
        labels = labels.to(dev)
        out = backbone(input_ids=masked.to(dev), attention_mask=b.attention_mask, **common)
        where = labels != -100
        x = heads.mlm_norm(F.gelu(heads.mlm_dense(out.text_hidden[where])))
        mlm = F.cross_entropy(
            F.linear(x, backbone.get_input_embeddings().weight, heads.mlm_bias).float(), labels[where]
        )
        loss = itc + itm + mlm
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        float(loss.detach())  # the engine reads the loss every step too
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / len(data), (time.process_time() - c) / len(data)


def compare(cfg: PretrainConfig, steps: int, repeats: int, device: str) -> dict:
    cfg, backbone, host, _, ds, collate = setup(cfg, steps * cfg.data.batch_size)
    data = batches(ds, collate, cfg.data.batch_size, steps)
    init = copy.deepcopy(backbone.state_dict())
    lr = float(cfg.optimizer_options.get("lr", 1e-4))
    names = ["itc", "itm", "mlm"]
    kemm_steps(backbone, host, names, data[:2], lr, device)  # warm-up
    backbone.load_state_dict(init)
    bare_steps(backbone, host, data[:2], lr, device)
    rows = {"kemm": [], "bare": []}
    for _ in range(repeats):
        backbone.load_state_dict(init)
        rows["kemm"].append(kemm_steps(backbone, host, names, data, lr, device))
        backbone.load_state_dict(init)
        rows["bare"].append(bare_steps(backbone, host, data, lr, device))
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()
    }
    return {
        "objectives": names,
        "fusion": cfg.model.get("fusion"),
        "batch_size": cfg.data.batch_size,
        "steps": steps,
        "repeats": repeats,
        "kemm_s_per_step": med["kemm"][0],
        "bare_s_per_step": med["bare"][0],
        "kemm_cpu_s_per_step": med["kemm"][1],
        "bare_cpu_s_per_step": med["bare"][1],
        "ratio_wall": med["kemm"][0] / med["bare"][0],
        "ratio_cpu": med["kemm"][1] / med["bare"][1],
        "raw": rows,
    }


def throughput(cfg: PretrainConfig, steps: int, device: str, precision: str = "fp32") -> dict:
    out = {}
    for fusion in (cfg.model.get("fusion"), "none"):
        c, backbone, host, _, ds, collate = setup(cfg, steps * cfg.data.batch_size, fusion)
        data = batches(ds, collate, c.data.batch_size, steps)
        names = [n for n, o in c.objectives.items() if o.get("enabled", True)]
        kemm_steps(backbone, host, names, data[:2], 1e-4, device, precision)
        wall, cpu = kemm_steps(backbone, host, names, data, 1e-4, device, precision)
        out[str(fusion)] = {
            "samples_per_second": c.data.batch_size / wall,
            "cpu_seconds_per_sample": cpu / c.data.batch_size,
            "objectives": names,
        }
    return out


def gpu_figures(cfg: PretrainConfig, steps: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    res = throughput(cfg, steps, "cuda", "bf16")
    c, backbone, host, _, ds, collate = setup(cfg, cfg.data.batch_size)
    data = batches(ds, collate, c.data.batch_size, 1)
    names = [n for n, o in c.objectives.items() if o.get("enabled", True)]
    objs = {n: build_objective(n, {}, host) for n in names}
    task = ListTask(PretrainModel(backbone, objs).cuda(), data)
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast("cuda", dtype=torch.bfloat16):
        loss, _ = task.objective_losses(data[0], torch.Generator(), torch.device("cuda"))
        loss.backward()
    flops = counter.get_total_flops()
    fused = res[str(c.model.get("fusion"))]
    achieved = flops * fused["samples_per_second"] / c.data.batch_size
    return {
        "device": name,
        "peak_bf16_flops": peak,
        "flops_per_step": flops,
        "throughput": res,
        "mfu": achieved / peak if peak else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/pretrain/small.yaml")
    ap.add_argument("--gpu-config", default="configs/pretrain/base.yaml")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", nargs="*", default=["runs/pretrain-small", "runs/pretrain-small_none"])
    ap.add_argument("--out", default="bench_results/pretrain.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = PretrainConfig.from_yaml(args.config)
    result: dict = {"config": args.config, "threads": args.threads}
    result["kemm_vs_bare"] = compare(cfg, args.steps, args.repeats, "cpu")
    result["cpu_throughput"] = throughput(cfg, args.steps, "cpu")
    waits = {}
    for run in args.runs:
        m = Path(run) / "metrics.json"
        if m.is_file():
            data = json.loads(m.read_text())
            waits[run] = {
                "data_wait_fraction": data.get("data_wait_fraction"),
                "samples_per_second": [h["samples_per_second"] for h in data["history"]],
            }
    result["runs"] = waits
    if torch.cuda.is_available():
        result["gpu"] = gpu_figures(PretrainConfig.from_yaml(args.gpu_config), args.steps)
    else:
        result["gpu"] = None
        result["gpu_note"] = "no CUDA device in this run"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    k = result["kemm_vs_bare"]
    print(
        f"kemm {k['kemm_s_per_step']:.3f} s/step, bare {k['bare_s_per_step']:.3f} s/step: "
        f"{k['ratio_wall']:.3f}x wall, {k['ratio_cpu']:.3f}x CPU"
    )
    for f, v in result["cpu_throughput"].items():
        print(f"fusion {f}: {v['samples_per_second']:.1f} samples/s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
