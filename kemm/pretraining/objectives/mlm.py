"""``mlm``: masked language modelling conditioned on the image (BERT's recipe, VL-BERT / ALBEF).

Tokens are masked by Hugging Face's own ``DataCollatorForLanguageModeling.torch_mask_tokens``
with its generator set to the engine's, so a resumed run masks the same tokens: 15 % of the
non-special, non-padding tokens are chosen; of those 80 % become [MASK], 10 % a random token and
10 % stay. Labels are -100 everywhere else, so the loss counts the chosen positions only. The
head is :class:`kemm.models.heads.MLMHead` (BERT's: dense, GELU, LayerNorm) with the decoder tied
to the text encoder's word embeddings, and it reads the joint sequence (text with the image and the
knowledge).

Shapes: input_ids (B, L) -> mlm_labels (B, L); text states (B, L, D) -> logits (masked, V).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kemm.errors import KemmError
from kemm.models.heads import MLMHead
from kemm.pretraining.batch import PretrainBatch
from kemm.pretraining.objectives.base import (
    OBJECTIVES,
    HostSizes,
    Objective,
    ObjectiveConfig,
    ObjectiveOutput,
    StepContext,
    zero_loss,
)


@dataclass
class MLMConfig(ObjectiveConfig):
    """Options of :class:`MaskedLanguageModelling`.

    Attributes:
        probability: fraction of tokens chosen (BERT: 0.15).
        mask_replace_prob: of the chosen, the fraction replaced by [MASK] (0.8).
        random_replace_prob: of the chosen, the fraction replaced by a random token (0.1); the rest
            stay as they are.
        See :class:`ObjectiveConfig` for ``weight`` and ``enabled``.
    """

    probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tokenizer: object,
    generator: torch.Generator,
    probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(masked input_ids, labels)``, both ``(B, L)``, by HF's ``torch_mask_tokens`` on ``generator``.

    Special tokens and padding (``attention_mask == 0``) are never chosen.
    """
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(
        tokenizer,  # type: ignore[arg-type]
        mlm_probability=probability,
        mask_replace_prob=mask_replace_prob,
        random_replace_prob=random_replace_prob,
        return_tensors="pt",
    )
    collator.generator = generator
    special = torch.isin(input_ids, torch.tensor(tokenizer.all_special_ids)) | (attention_mask == 0)  # type: ignore[attr-defined]
    return collator.torch_mask_tokens(input_ids.clone(), special_tokens_mask=special)


@OBJECTIVES.register("mlm", aliases=("masked-language-modelling", "masked-lm"))
class MaskedLanguageModelling(Objective):
    """Masked language modelling on the joint sequence; see the module docstring."""

    config_class = MLMConfig

    def __init__(self, config: MLMConfig | None = None, *, host: HostSizes) -> None:
        super().__init__(config, host=host)
        if host.tokenizer is None or getattr(host.tokenizer, "mask_token", None) is None:
            raise KemmError("mlm needs a tokenizer with a [MASK] token")
        if host.word_embeddings is None:
            raise KemmError("mlm needs the text encoder's word embeddings (HostSizes.word_embeddings)")
        self.head = MLMHead(host.word_embeddings)

    def corrupt(self, batch: PretrainBatch, generator: torch.Generator) -> PretrainBatch:
        c = self.config
        ids, labels = mask_tokens(
            batch.input_ids,
            batch.attention_mask,
            self.host.tokenizer,
            generator,
            c.probability,
            c.mask_replace_prob,
            c.random_replace_prob,
        )
        out = batch.replace(input_ids=ids)
        out.targets["mlm_labels"] = labels
        return out

    def forward(self, ctx: StepContext) -> ObjectiveOutput:
        labels = ctx.corrupted_batch.targets["mlm_labels"]  # (B, L)
        out = ctx.corrupted()
        where = labels != -100
        if not bool(where.any()):
            return ObjectiveOutput(zero_loss(self, out.text_hidden), {})
        logits = self.head(out.text_hidden[where]).float()  # (N, V)
        target = labels[where]
        loss = F.cross_entropy(logits, target)
        acc = (logits.argmax(1) == target).float().mean()
        return ObjectiveOutput(loss, {"acc/mlm": float(acc)})
