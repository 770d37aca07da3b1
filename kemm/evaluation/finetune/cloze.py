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
(``info["mlm_head_from_pretraining"]``).

Zero-shot (task ``lama-zero-shot``, :func:`zero_shot_cloze`): the pre-trained checkpoint scores the
probes as it is, with no fine-tuning. Words come from its MLM head at the blank (LAMA's protocol
for BERT); KG entities from its entity-denoising head (ERNIE's dEA: a mention's state against entity
vectors), when it was pre-trained with one, over its own entity table, the vectors that head was
trained against. The subgraph pointer has no pre-trained weights and is left out. Since the
checkpoint's entity table was trained on the full KG, the zero-shot task runs in the fact-in-KG
setting only.
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

    def __init__(
        self, backbone: nn.Module, entity_words: torch.Tensor | None = None, pointer: bool = True
    ) -> None:
        super().__init__()
        self.backbone = backbone
        words = backbone.text.embeddings.word_embeddings  # type: ignore[union-attr]
        self.head = ClozeHead(words, int(backbone.entities.entity_dim))  # type: ignore[union-attr,arg-type]
        self.pointer = pointer  # False: no subgraph pointer (zero-shot: it has no trained weights)
        self.entity_words: torch.Tensor | None
        self.register_buffer("entity_words", entity_words, persistent=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, knowledge: Any, positions: torch.Tensor) -> Any:
        """``word_logits`` ``(B, V)`` and ``entity_logits`` ``(B, N)`` at each probe's blank."""
        out = self.backbone(input_ids=ids, attention_mask=mask, knowledge=knowledge)
        text = out.text_hidden if getattr(out, "text_hidden", None) is not None else out.last_hidden_state
        extras = out.extras if self.pointer else None
        return self.head(text, positions, self.backbone.entities, extras, self.entity_words)  # type: ignore[arg-type]


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


def load_entity_head(head: ClozeHead, pretrained: str | Path) -> bool:
    """Take ``head``'s entity scorer from the pre-training run's entity-denoising head (the same
    :class:`~kemm.models.heads.EntityScorer`); False when the run has none."""
    from safetensors.torch import load_file

    from kemm.evaluation.finetune.base import model_dir

    path = model_dir(pretrained) / "objectives.safetensors"
    prefix = "entity-denoising.head.scorer."
    state = (
        {k[len(prefix) :]: v for k, v in load_file(str(path)).items() if k.startswith(prefix)}
        if path.is_file()
        else {}
    )
    if not state:
        return False
    try:
        head.entity.load_state_dict(state)
    except RuntimeError as e:
        raise KemmError(f"{path}: the entity-denoising head does not fit the model: {e}") from None
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
    from kemm.evaluation.finetune.base import FinetuneRun, fit, start_run

    run = start_run(ablation, "lama", fusion, seed, kg_dir, Path(kge_run), Path(run_dir))
    if not isinstance(run, FinetuneRun):
        return run  # finished before with the same settings
    probes = _Probes(ablation, run, fusion, kg_dir)
    model = ClozeModel(run.backbone, entity_words(run.kg, run.tokenizer))
    warm = load_mlm_head(model.head, run.pretrained)
    ct = ClozeTask(model, fusion, probes.items["train"], probes.items["val"], run.cfg, probes.pad_id)
    ct.prepare_fact_dropout(run.kg, probes.data["train"], run.specs["train"], probes.facts["train"])
    trained = fit(ct, run.cfg, seed, "valid/entity_mrr", Path(run_dir), task)
    info = {
        "kge": str(kge_run),
        "train_facts_in_subgraph": ct.facts_in_subgraphs(),
        "zero_shot": False,
        "mlm_head_from_pretraining": warm,
        "best_epoch": trained.best_epoch,
        "valid_entity_mrr": trained.best_metric,
        "epoch_losses": [round(float(h["loss"]), 4) for h in trained.history],
    }
    return probes.score(ct, task, seed, setting, Path(run_dir), info, entities=True)


def zero_shot_cloze(
    ablation: Any, task: str, fusion: str, seed: int, setting: str, kg_dir: Path, kge_run: Path, run_dir: Path
) -> Any:
    """Score ``ablation.split``'s probes with ``fusion``'s pre-trained checkpoint as it is: its MLM
    head over words, its entity-denoising head over its own entity table (the module docstring).

    Raises:
        KemmError: no checkpoint for ``fusion``, a setting other than fact-in-KG, or a checkpoint
            without an MLM head.
    """
    from kemm.evaluation.finetune.base import FinetuneRun, start_run

    if setting != "fact-in-kg":
        raise KemmError(f"{task} runs with the fact in the KG only: {ZERO_SHOT_WHY}")
    if fusion not in (getattr(ablation, "pretrained", {}) or {}):
        raise KemmError(
            f"{task} scores a pre-trained checkpoint as it is: `pretrained` has none for {fusion}"
        )
    run = start_run(ablation, "lama", fusion, seed, kg_dir, Path(kge_run), Path(run_dir), own_entities=True)
    if not isinstance(run, FinetuneRun):
        return run
    assert run.pretrained is not None
    probes = _Probes(ablation, run, fusion, kg_dir)
    model = ClozeModel(run.backbone, pointer=False)
    if not load_mlm_head(model.head, run.pretrained):
        raise KemmError(f"{run.pretrained}: no MLM head in objectives.safetensors to fill the blank with")
    entity_head = load_entity_head(model.head, run.pretrained)
    ct = ClozeTask(model, fusion, [], [], run.cfg, probes.pad_id)
    info = {
        "kge": "the checkpoint's own entity table",
        "zero_shot": True,
        "mlm_head_from_pretraining": True,
        "entity_head_from_pretraining": entity_head,
    }
    return probes.score(ct, task, seed, setting, Path(run_dir), info, entities=entity_head)


#: why the zero-shot cloze task has no fact-removed run
ZERO_SHOT_WHY = (
    "it scores the checkpoint's own entity table, which was trained on the KG with the evaluated facts"
)


class _Probes:
    """A run's probes: examples, facts, object entities and grounded items of each split."""

    def __init__(self, ablation: Any, run: Any, fusion: str, kg_dir: Path) -> None:
        from kemm.evaluation.facts import read_facts

        self.ablation, self.run, self.fusion, self.kg_dir = ablation, run, fusion, kg_dir
        tokenizer, specs, data, kg = run.tokenizer, run.specs, run.data, run.kg
        if tokenizer.mask_token is None:
            raise KemmError("cloze fine-tuning needs a tokenizer with a mask token")
        self.data = data
        self.facts = {s: {f.id: f for f in read_facts(data[s], specs[s].format, specs[s].path)} for s in data}
        self.objects = {
            s: {i: int(kg.entity_id(f.objects[0])) for i, f in self.facts[s].items()} for s in data
        }
        self.items = {
            s: _items(
                ("lama", str(specs[s].path), str(kg_dir)),
                data[s],
                self.objects[s],
                kg,
                tokenizer,
                run.cfg,
                fusion,
            )
            for s in data
        }
        self.pad_id = tokenizer.pad_token_id or 0

    def score(
        self,
        ct: ClozeTask,
        task: str,
        seed: int,
        setting: str,
        run_dir: Path,
        info: dict[str, Any],
        entities: bool,
    ) -> Any:
        """Score the evaluated split (and the seen split) in the word space (and the entity space)
        and write the result."""
        from kemm.evaluation.finetune.base import run_settings, score_with_seen
        from kemm.evaluation.tasks.base import write_result

        result, preds = score_with_seen(
            self.ablation,
            self.data,
            run_dir,
            lambda split: self._score_split(ct, task, split, setting, entities),
        )
        run = self.run
        result.info.update(
            {
                "fusion": self.fusion,
                "seed": seed,
                "finetune": run_settings(run.cfg, run.pretrained),
                "checkpoint": str(run.pretrained) if run.pretrained else f"fresh {run.cfg.architecture}",
                "kg": str(self.kg_dir),
                "train_probes": len(self.items["train"]),
                **info,
            }
        )
        return write_result(run_dir, result, preds)

    def _score_split(
        self, ct: ClozeTask, task: str, split: str, setting: str, entities: bool
    ) -> tuple[Any, list]:
        from kemm.evaluation.tasks.lama import (
            ClozeScores,
            gold_columns,
            read_vocabulary,
            score_cloze,
            word_protocol,
        )

        run, tokenizer, kg = self.run, self.run.tokenizer, self.run.kg
        examples = self.data[split]
        ids = [example_id(ex) for ex in examples]
        protocol = word_protocol(examples, read_vocabulary(run.bench.cloze_vocabulary), tokenizer.tokenize)
        columns = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)[0]) for w in protocol.candidates]
        ent, word = ct.all_scores(self.items[split], columns)
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
        space = (
            ClozeScores(ids, list(kg.entities.keys), ent, [self.objects[split][i] for i in ids])
            if entities
            else None
        )
        return score_cloze(
            task, examples, words, space, protocol, self.facts[split], run.bench.heldout(split), setting
        )
