"""Fine-tuning multiple choice (CommonsenseQA format): one logit per (question, choice) pair.

Each pair is the text ``"question [SEP] choice"``, grounded by the linker (entities before the
separator are QA-GNN's ``question`` nodes, those of the choice ``answer`` nodes) with its subgraph,
encoded by the backbone (the benchmark's multiple-choice questions have no image), and scored by
:class:`~kemm.models.heads.MultipleChoiceHead` (with the pooled graph under ``gnn``); the loss is
the cross-entropy over the ``K`` choices. The chosen indices go to
:func:`kemm.evaluation.tasks.multiple_choice.score_multiple_choice`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kemm.data import MultipleChoiceExample
from kemm.errors import KemmError
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
from kemm.evaluation.metrics import multiple_choice_accuracy
from kemm.models.heads import MultipleChoiceHead
from kemm.training import RunContext, StepOutput

logger = logging.getLogger(__name__)

SEP = "[SEP]"


class ChoiceModel(nn.Module):
    """The backbone and a :class:`MultipleChoiceHead`, trained together."""

    def __init__(self, backbone: nn.Module, fusion: str) -> None:
        super().__init__()
        self.backbone = backbone
        hidden = int(backbone.text.config.hidden_size)  # type: ignore[union-attr,arg-type]
        self.head = MultipleChoiceHead(hidden, graph_size=hidden if needs_graph(fusion) else None)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, knowledge: Any, num_choices: int
    ) -> torch.Tensor:
        """``(B * K, L)`` pairs -> ``(B, K)`` logits."""
        out = self.backbone(input_ids=ids, attention_mask=mask, knowledge=knowledge)
        graph = (out.extras or {}).get("graph_pooled")
        return self.head(pooled_output(out), num_choices, graph)  # (B, K)


def pair_texts(examples: Sequence[MultipleChoiceExample]) -> tuple[list[str], list[int]]:
    """Every ``"question [SEP] choice"`` text (question-major) and where its choice begins."""
    texts, starts = [], []
    for ex in examples:
        for choice in ex.choices:
            head = f"{ex.question} {SEP} "
            texts.append(head + choice)
            starts.append(len(head))
    return texts, starts


class MultipleChoiceTask(FinetuneTask):
    """Cross-entropy over the choices; validation accuracy decides the epoch kept.

    Args:
        model: a :class:`ChoiceModel`.
        train, valid: grounded pairs per question (``K`` each) and the gold index of each question.
    """

    def __init__(
        self,
        model: ChoiceModel,
        fusion: str,
        train: list[list[Grounded]],
        train_gold: list[int],
        valid: list[list[Grounded]],
        valid_gold: list[int],
        cfg: FinetuneConfig,
        pad_id: int,
    ) -> None:
        self.model = model
        self.fusion = fusion
        self.train, self.train_gold = train, train_gold
        self.valid, self.valid_gold = valid, valid_gold
        self.cfg = cfg
        self.pad_id = pad_id
        self.device = torch.device("cpu")
        self.losses: list[float] = []  # per step

    def logits(self, questions: Sequence[list[Grounded]]) -> torch.Tensor:
        k = len(questions[0])
        if any(len(q) != k for q in questions):
            raise KemmError("questions of one batch must have the same number of choices")
        flat = [g for q in questions for g in q]  # (B * K)
        ids, mask = pad_texts(flat, self.pad_id)
        kb = knowledge_batch(flat, self.fusion).to(self.device)
        return self.model(ids.to(self.device), mask.to(self.device), kb, k)  # (B, K)

    def training_step(self, batch: list[int]) -> StepOutput:
        logits = self.logits(self.train_items(batch))
        gold = torch.tensor([self.train_gold[i] for i in batch], device=logits.device)
        loss = F.cross_entropy(logits, gold)
        self.losses.append(float(loss.detach()))
        return StepOutput(loss, num_samples=len(batch))

    def item_without_fact(self, item: list[Grounded], states: Any) -> list[Grounded] | None:
        """The question's pairs without its fact's edges (only the gold pair holds them), or None."""
        pairs = [without_fact(g, states) for g in item]
        if all(p is None for p in pairs):
            return None
        return [p if p is not None else g for p, g in zip(pairs, item)]

    def configure_optimizer(self) -> Any:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def predict(self, questions: Sequence[list[Grounded]]) -> list[int]:
        """The chosen index of every question (eval mode, no gradients)."""
        was = self.model.training
        self.model.eval()
        out: list[int] = []
        with torch.no_grad():
            # questions with different numbers of choices go one at a time
            i = 0
            while i < len(questions):
                k = len(questions[i])
                j = i
                while j < len(questions) and j - i < self.cfg.batch_size and len(questions[j]) == k:
                    j += 1
                out += self.logits(questions[i:j]).argmax(-1).tolist()
                i = j
        self.model.train(was)
        return out

    def validate(self, ctx: RunContext) -> dict[str, float]:
        if not self.valid:
            return {}
        return {"valid/accuracy": multiple_choice_accuracy(self.predict(self.valid), self.valid_gold)}


def _grounded(
    key: tuple,
    examples: Sequence[MultipleChoiceExample],
    kg: Any,
    tokenizer: Any,
    cfg: FinetuneConfig,
    fusion: str,
) -> list[list[Grounded]]:
    texts, starts = pair_texts(examples)
    flat = ground_cached(key, kg, tokenizer, texts, cfg, answer_starts=starts, with_graph=needs_graph(fusion))
    out, s = [], 0
    for ex in examples:
        out.append(flat[s : s + len(ex.choices)])
        s += len(ex.choices)
    return out


def finetune_multiple_choice(
    ablation: Any, task: str, fusion: str, seed: int, setting: str, kg_dir: Path, kge_run: Path, run_dir: Path
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
    from kemm.evaluation.tasks.multiple_choice import score_multiple_choice

    run_dir = Path(run_dir)
    run = start_run(ablation, "csqa", fusion, seed, kg_dir, kge_run, run_dir)
    if not isinstance(run, FinetuneRun):
        return run  # finished before with the same settings
    cfg, pretrained, bench, specs, data, kg, backbone, tokenizer = run
    train = data["train"]
    grounded = {
        s: _grounded(("csqa", str(specs[s].path), str(kg_dir)), data[s], kg, tokenizer, cfg, fusion)
        for s in data
    }
    model = ChoiceModel(backbone, fusion)
    mc = MultipleChoiceTask(
        model,
        fusion,
        grounded["train"],
        [int(ex.answer) for ex in train],
        grounded["val"],
        [int(ex.answer) for ex in data["val"]],
        cfg,
        tokenizer.pad_token_id or 0,
    )
    mc.prepare_fact_dropout(kg, train, specs["train"])
    trained = fit(mc, cfg, seed, "valid/accuracy", run_dir, task)

    def score(split: str) -> tuple[Any, list]:
        examples = data[split]
        ids = [example_id(ex) for ex in examples]
        chosen = dict(zip(ids, mc.predict(grounded[split])))
        entities = {
            i: list(dict.fromkeys(k for g in q for k in entity_keys(kg, g.knowledge)))
            for i, q in zip(ids, grounded[split])
        }
        facts = _facts(examples, specs[split])
        return score_multiple_choice(task, examples, chosen, facts, bench.heldout(split), entities, setting)

    result, preds = score_with_seen(ablation, data, run_dir, score)
    result.info.update(
        {
            "fusion": fusion,
            "seed": seed,
            "finetune": run_settings(cfg, pretrained),
            "checkpoint": str(pretrained) if pretrained else f"fresh {cfg.architecture}",
            "kge": str(kge_run),
            "kg": str(kg_dir),
            "train_questions": len(train),
            "train_facts_in_subgraph": mc.facts_in_subgraphs(),
            "best_epoch": trained.best_epoch,
            "valid_accuracy": trained.best_metric,
            "epoch_losses": [round(float(h["loss"]), 4) for h in trained.history],
        }
    )
    return write_result(run_dir, result, preds)
