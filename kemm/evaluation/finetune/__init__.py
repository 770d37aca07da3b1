"""Fine-tuning a vision-language model per fusion module on each evaluation task, one file per
kind of task (:mod:`.multiple_choice`, :mod:`.vqa`, :mod:`.cloze` with its zero-shot scoring;
shared pieces in :mod:`.base`).

Importing this package registers each in :data:`kemm.evaluation.ablation.FINETUNERS`, which
``kemm eval ablate`` calls for ``fusion: none`` and every fusion module, per seed and setting.
"""

from kemm.evaluation.ablation import FINETUNER_SPECS, FINETUNERS, FinetunerSpec
from kemm.evaluation.finetune.base import FinetuneConfig
from kemm.evaluation.finetune.cloze import ZERO_SHOT_WHY, finetune_cloze, zero_shot_cloze
from kemm.evaluation.finetune.multiple_choice import finetune_multiple_choice
from kemm.evaluation.finetune.vqa import finetune_vqa

FINETUNERS.setdefault("csqa", finetune_multiple_choice)
FINETUNERS.setdefault("okvqa", finetune_vqa)
FINETUNERS.setdefault("lama", finetune_cloze)
FINETUNERS.setdefault("lama-zero-shot", zero_shot_cloze)
FINETUNER_SPECS.setdefault(
    "lama-zero-shot",
    FinetunerSpec(settings=("fact-in-kg",), why=ZERO_SHOT_WHY, needs_checkpoint=True, seedless=True),
)

__all__ = [
    "FINETUNERS",
    "FinetuneConfig",
    "finetune_cloze",
    "finetune_multiple_choice",
    "finetune_vqa",
    "zero_shot_cloze",
]
