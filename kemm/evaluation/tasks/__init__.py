"""Evaluation tasks, one file each, registered in :data:`EVAL_TASKS`.

==============  =========================================  ==================================
task            datasets (:data:`kemm.data.DATASETS`)       headline metric
==============  =========================================  ==================================
``lama``        ``lama`` (LAMA, any subset)                P@1 over single-token words; P@10, MRR; entities
``csqa``        ``commonsenseqa``                          accuracy
``obqa``        ``openbookqa``                             accuracy
``okvqa``       ``okvqa``                                  official VQA soft accuracy
``aokvqa``      ``aokvqa`` (direct answers)                official VQA soft accuracy
``factverify``  true and corrupted KG facts, stated in text   accuracy (chance 0.5)
``linkpred``    a KGE run's KG split                       filtered MRR (realistic ranks)
==============  =========================================  ==================================
"""

from kemm.evaluation.tasks.base import (
    EVAL_TASKS,
    METRICS_FILE,
    PREDICTIONS_FILE,
    SETTINGS,
    EvalTask,
    Prediction,
    TaskResult,
    check_ids,
    read_predictions,
    write_predictions,
    write_result,
)

# importing the task modules registers the tasks
from kemm.evaluation.tasks import fact_verification, lama, linkpred, multiple_choice, vqa  # noqa: E402,F401  isort: skip

__all__ = [
    "EVAL_TASKS",
    "METRICS_FILE",
    "PREDICTIONS_FILE",
    "SETTINGS",
    "EvalTask",
    "Prediction",
    "TaskResult",
    "check_ids",
    "read_predictions",
    "write_predictions",
    "write_result",
]
