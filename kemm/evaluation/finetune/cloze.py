"""Fine-tuning cloze probes (LAMA format): the :class:`~kemm.models.heads.ClozeHead` at the blank.

The probe's sentence, its ``[MASK]`` replaced by the tokenizer's mask token, is grounded by the
linker and encoded (text only); at the mask the head scores every word of the tokenizer's vocabulary
(a BERT MLM head tied to the word embeddings) and every KG entity (dot product with the KGE run's
vectors). Training on the benchmark's train probes adds the cross-entropy over entities (the
fact's object) and, when the object is a single token, over words. The scores of the evaluated
split go to :func:`kemm.evaluation.tasks.lama.score_cloze` in both spaces: the LAMA word space
(single-token words of ``lama/vocab.txt``, :func:`~kemm.evaluation.tasks.lama.word_protocol`) and the
KG-entity space. The epoch kept is the one with the best entity-space MRR on the val probes.

Starting from a pre-training run whose ``objectives.safetensors`` holds the MLM objective's head
(:class:`~kemm.models.heads.MLMHead`), the ClozeHead's word scorer starts from it
(``info["mlm_head_from_pretraining"]``). Zero-shot scoring (no fine-tuning) is not offered: the
entity scorer has no pre-trained weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kemm.data import MASK, ClozeExample
from kemm.errors import KemmError
from kemm.evaluation.datasets import example_id
from kemm.evaluation.finetune.base import (
    FinetuneConfig,
    FinetuneTask,
    Grounded,
    ground_cached,
    knowledge_batch,
    needs_graph,
    pad_texts,
    without_fact,
)
from kemm.evaluation.metrics import mrr, realistic_rank
from kemm.models.heads import ClozeHead
from kemm.training import RunContext, StepOutput

logger = logging.getLogger(__name__)


class ClozeModel(nn.Module):
    """The backbone and a :class:`ClozeHead` (word vocabulary and KG entities).

    ``entity_words`` ``(N,)``: the word id of each entity whose label is a single token (-1
    otherwise), so that a subgraph node's score also reaches its word (:class:`ClozeHead`).
    """

    def __init__(self, backbone: nn.Module, entity_words: torch.Tensor | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        words = backbone.text.embeddings.word_embeddings  # type: ignore[union-attr]
        self.head = ClozeHead(words, int(backbone.entities.entity_dim))  # type: ignore[union-attr,arg-type]
        self.entity_words: torch.Tensor | None
        self.register_buffer("entity_words", entity_words, persistent=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, knowledge: Any, positions: torch.Tensor) -> Any:
        """``word_logits`` ``(B, V)`` and ``entity_logits`` ``(B, N)`` at each probe's blank."""
        out = self.backbone(input_ids=ids, attention_mask=mask, knowledge=knowledge)
        text = out.text_hidden if getattr(out, "text_hidden", None) is not None else out.last_hidden_state
        return self.head(text, positions, self.backbone.entities, out.extras, self.entity_words)  # type: ignore[arg-type]


class ClozeItem:
    """One probe: grounded text, the blank's position, the object entity and its word token (-100: none)."""

    def __init__(self, text: Grounded, position: int, entity: int, word: int) -> None:
        self.text, self.position, self.entity, self.word = text, position, entity, word


class ClozeTask(FinetuneTask):
    """Cross-entropy over entities (and words for single-token objects) at the blank."""

    def __init__(
        self,
        model: ClozeModel,
        fusion: str,
        train: list[ClozeItem],
        valid: list[ClozeItem],
        cfg: FinetuneConfig,
        pad_id: int,
    ) -> None:
        self.model = model
        self.fusion = fusion
        self.train, self.valid = train, valid
        self.cfg = cfg
        self.pad_id = pad_id
        self.device = torch.device("cpu")

    def scores(self, items: Sequence[ClozeItem]) -> Any:
        ids, mask = pad_texts([x.text for x in items], self.pad_id)
        kb = knowledge_batch([x.text for x in items], self.fusion).to(self.device)
        positions = torch.tensor([x.position for x in items], device=self.device)
        return self.model(ids.to(self.device), mask.to(self.device), kb, positions)

    def training_step(self, batch: list[int]) -> StepOutput:
        items = self.train_items(batch)
        out = self.scores(items)
        entity = torch.tensor([x.entity for x in items], device=self.device)
        word = torch.tensor([x.word for x in items], device=self.device)
        loss = F.cross_entropy(out.entity_logits, entity)
        logs = {"loss/entity": float(loss.detach())}
        if bool((word >= 0).any()):
            w = F.cross_entropy(out.word_logits, word, ignore_index=-100)
            loss = loss + w
            logs["loss/word"] = float(w.detach())
        return StepOutput(loss, logs, len(items))

    def item_without_fact(self, item: ClozeItem, states: Any) -> ClozeItem | None:
        g = without_fact(item.text, states)
        return None if g is None else ClozeItem(g, item.position, item.entity, item.word)

    def configure_optimizer(self) -> Any:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def all_scores(
        self, items: Sequence[ClozeItem], word_columns: list[int] | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(entity scores (n, N), word scores (n, len(word_columns)) or None)``, eval mode."""
        was = self.model.training
        self.model.eval()
        ent, words = [], []
        with torch.no_grad():
            for s in range(0, len(items), self.cfg.batch_size):
                out = self.scores(items[s : s + self.cfg.batch_size])
                ent.append(out.entity_logits.float().cpu())
                if word_columns is not None:
                    words.append(out.word_logits[:, word_columns].float().cpu())
        self.model.train(was)
        return torch.cat(ent), (torch.cat(words) if word_columns is not None else None)

    def validate(self, ctx: RunContext) -> dict[str, float]:
        if not self.valid:
            return {}
        ent, _ = self.all_scores(self.valid, None)
        ranks = realistic_rank(ent, torch.tensor([x.entity for x in self.valid]))
        return {"valid/entity_mrr": mrr(ranks.tolist())}


def load_mlm_head(head: ClozeHead, pretrained: str | Path | None) -> bool:
    """Start ``head``'s word scorer from the pre-training run's MLM head; False when it has none."""
    from safetensors.torch import load_file

    from kemm.evaluation.finetune.base import model_dir

    if pretrained is None:
        return False
    path = model_dir(pretrained) / "objectives.safetensors"
    if not path.is_file():
        return False
    prefix = "mlm.head."
    state = {k[len(prefix) :]: v for k, v in load_file(str(path)).items() if k.startswith(prefix)}
    if not state:
        return False
    missing, unexpected = head.mlm.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"decoder.weight"}:  # the decoder is tied to the word embeddings
        raise KemmError(
            f"{path}: the MLM head does not fit the model (missing {missing}, unexpected {unexpected})"
        )
    return True


def entity_words(kg: Any, tokenizer: Any) -> torch.Tensor:
    """``(N,)``: the word id of each KG entity whose label is one token of ``tokenizer``, else -1."""
    ids = []
    for n in range(kg.num_entities):
        pieces = tokenizer.tokenize(kg.entity_label(n))
        ids.append(tokenizer.convert_tokens_to_ids(pieces[0]) if len(pieces) == 1 else -1)
    return torch.tensor(ids, dtype=torch.long)


def _items(
    key: tuple,
    examples: Sequence[ClozeExample],
    objects: dict[str, int],
    kg: Any,
    tokenizer: Any,
    cfg: FinetuneConfig,
    fusion: str,
) -> list[ClozeItem]:
    texts = [ex.masked_sentences[0].replace(MASK, tokenizer.mask_token) for ex in examples]
    grounded = ground_cached(key, kg, tokenizer, texts, cfg, with_graph=needs_graph(fusion))
    items = []
    for ex, g in zip(examples, grounded):
        if tokenizer.mask_token_id not in g.input_ids:
            raise KemmError(f"probe {example_id(ex)}: the blank is past max_length {cfg.max_length} tokens")
        pieces = tokenizer.tokenize(ex.answer)
        word = tokenizer.convert_tokens_to_ids(pieces[0]) if len(pieces) == 1 else -100
        items.append(ClozeItem(g, g.input_ids.index(tokenizer.mask_token_id), objects[example_id(ex)], word))
    return items


def finetune_cloze(
    ablation: Any, task: str, fusion: str, seed: int, setting: str, kg_dir: Path, kge_run: Path, run_dir: Path
) -> Any:
    """Fine-tune ``fusion``'s model on the benchmark's train probes and score ``ablation.split``
    (the :data:`~kemm.evaluation.ablation.FINETUNERS` signature)."""
    from kemm.evaluation.facts import read_facts
    from kemm.evaluation.finetune.base import (
        FinetuneRun,
        fit,
        run_settings,
        start_run,
    )
    from kemm.evaluation.tasks.base import write_result
    from kemm.evaluation.tasks.lama import (
        ClozeScores,
        gold_columns,
        read_vocabulary,
        score_cloze,
        word_protocol,
    )

    run_dir = Path(run_dir)
    run = start_run(ablation, "lama", fusion, seed, kg_dir, kge_run, run_dir)
    if not isinstance(run, FinetuneRun):
        return run  # finished before with the same settings
    cfg, pretrained, bench, specs, data, kg, backbone, tokenizer = run
    facts = {s: {f.id: f for f in read_facts(data[s], specs[s].format, specs[s].path)} for s in data}
    objects = {s: {i: int(kg.entity_id(f.objects[0])) for i, f in facts[s].items()} for s in data}
    if tokenizer.mask_token is None:
        raise KemmError("cloze fine-tuning needs a tokenizer with a mask token")
    items = {
        s: _items(("lama", str(specs[s].path), str(kg_dir)), data[s], objects[s], kg, tokenizer, cfg, fusion)
        for s in data
    }
    model = ClozeModel(backbone, entity_words(kg, tokenizer))
    warm = load_mlm_head(model.head, pretrained)
    ct = ClozeTask(model, fusion, items["train"], items["val"], cfg, tokenizer.pad_token_id or 0)
    ct.prepare_fact_dropout(kg, data["train"], specs["train"], facts["train"])
    trained = fit(ct, cfg, seed, "valid/entity_mrr", run_dir, task)

    examples = data[ablation.split]
    ids = [example_id(ex) for ex in examples]
    protocol = word_protocol(examples, read_vocabulary(bench.cloze_vocabulary), tokenizer.tokenize)
    columns = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)[0]) for w in protocol.candidates]
    ent, word = ct.all_scores(items[ablation.split], columns)
    assert word is not None
    row = {i: k for k, i in enumerate(ids)}
    by_id = {example_id(ex): ex for ex in examples}
    scored = protocol.scored
    words = ClozeScores(
        scored,
        protocol.candidates,
        word[[row[i] for i in scored]].reshape(len(scored), len(protocol.candidates)),
        gold_columns(scored, {i: by_id[i].answer for i in scored}, protocol.candidates),
    )
    keys = list(kg.entities.keys)
    entities = ClozeScores(ids, keys, ent, [objects[ablation.split][i] for i in ids])
    result, preds = score_cloze(
        task,
        examples,
        words,
        entities,
        protocol,
        facts[ablation.split],
        bench.heldout(ablation.split),
        setting,
    )
    result.info.update(
        {
            "fusion": fusion,
            "seed": seed,
            "finetune": run_settings(cfg, pretrained),
            "checkpoint": str(pretrained) if pretrained else f"fresh {cfg.architecture}",
            "kge": str(kge_run),
            "kg": str(kg_dir),
            "train_probes": len(items["train"]),
            "train_facts_in_subgraph": ct.facts_in_subgraphs(),
            "zero_shot": False,
            "mlm_head_from_pretraining": warm,
            "best_epoch": trained.best_epoch,
            "valid_entity_mrr": trained.best_metric,
            "epoch_losses": [round(float(h["loss"]), 4) for h in trained.history],
        }
    )
    return write_result(run_dir, result, preds)
