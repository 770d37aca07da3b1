"""Evaluation tasks, one file each, registered in :data:`EVAL_TASKS`.

==============  =========================================  ==================================
task            datasets (:data:`kemm.data.DATASETS`)       headline metric
==============  =========================================  ==================================
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
