"""``okvqa`` and ``aokvqa``: knowledge VQA, the official VQA soft accuracy.

:func:`score_vqa` scores one answer string per question with
:func:`kemm.evaluation.metrics.vqa_soft_accuracy` against all its human answers, exactly as the
official ``vqaEval.py`` does; the overall accuracy is the mean over questions (as there). Gold
answers outside the answer vocabulary (:class:`kemm.evaluation.answers.AnswerVocabulary`, built
from the training answers) are never dropped: those questions are scored like every other (the
KG-entity pointer of the VQA head can still answer them) and counted in ``counts["oov_gold"]``,
with the accuracy on them and on the others in ``groups``.

Links: objects are linked from the image by the model's region classifier or a detector
(``links="predicted"``, the headline); runs with ground-truth object labels (``"oracle"``) are
reported apart. The link source is recorded in the result's ``info``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from kemm.data import VQAExample
from kemm.errors import KemmError
from kemm.evaluation.answers import AnswerVocabulary
from kemm.evaluation.datasets import example_id
from kemm.evaluation.facts import Fact
from kemm.evaluation.metrics import vqa_soft_accuracy
from kemm.evaluation.tasks.base import EVAL_TASKS, EvalTask, Prediction, TaskResult, breakdown, check_ids
from kemm.evaluation.tasks.multiple_choice import entity_groups

LINKS = ("predicted", "oracle")


@EVAL_TASKS.register("okvqa", aliases=("ok-vqa",))
class OKVQATask(EvalTask):
    """OK-VQA-format knowledge VQA (the bundled benchmark's ``okvqa/``); VQA soft accuracy."""

    formats = ("okvqa",)
    metric = "vqa_accuracy"


@EVAL_TASKS.register("aokvqa", aliases=("a-okvqa",))
class AOKVQATask(OKVQATask):
    """A-OKVQA direct answers; VQA soft accuracy over the direct answers."""

    formats = ("aokvqa",)


def _most_common(counts: Counter[str]) -> str:
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def train_prior_answers(train: Sequence[VQAExample], examples: Sequence[VQAExample]) -> dict[str, str]:
    """The train-prior baseline: per question type, the answer most often top-voted in training
    questions of the type (the most common overall for a type unseen in training); ties alphabetical.
    The same rule as the benchmark's ``stats.json`` baseline (:mod:`kemm.data.benchmark.chance`)."""
    top: dict[str | None, Counter[str]] = defaultdict(Counter)
    for ex in train:
        if ex.answers:
            top[ex.question_type][_most_common(Counter(ex.answers))] += 1
    if not top:
        raise KemmError("no answered training questions to estimate the answer prior from")
    overall = _most_common(sum(top.values(), Counter()))
    return {
        example_id(ex): _most_common(top[ex.question_type]) if ex.question_type in top else overall
        for ex in examples
    }


def _accuracy(preds: Sequence[Prediction]) -> dict[str, float]:
    return {"vqa_accuracy": sum(float(p.correct) for p in preds) / len(preds)}


def score_vqa(
    task: str,
    examples: Sequence[VQAExample],
    answers: Mapping[str, str],
    vocabulary: AnswerVocabulary | None = None,
    facts: Mapping[str, Fact] | None = None,
    heldout: set[str] | None = None,
    entities: Mapping[str, list[str]] | None = None,
    setting: str = "fact-in-kg",
    links: str = "predicted",
) -> tuple[TaskResult, list[Prediction]]:
    """Official VQA accuracy of the answer ``answers[id]`` of every question.

    Args:
        vocabulary: the answer vocabulary from training; questions none of whose human answers
            it holds are counted (``oov_gold``) and reported apart in ``groups``.
        facts, heldout: per-relation and seen/held-out breakdowns (see
            :func:`kemm.evaluation.tasks.multiple_choice.score_multiple_choice`); without facts,
            the breakdown is by ``question_type``.
        links: ``"predicted"`` or ``"oracle"``, recorded in ``info``.

    Raises:
        KemmError: no questions; questions without human answers (counted); a bad ``links``.
        InputError: the ids of ``answers`` differ from the dataset's.
    """
    if links not in LINKS:
        raise KemmError(f"links must be one of {', '.join(LINKS)}, got {links!r}")
    if not examples:
        raise KemmError(f"{task}: no questions to evaluate")
    ids = [example_id(ex) for ex in examples]
    check_ids(list(answers), ids)
    unanswered = [i for i, ex in zip(ids, examples) if not ex.answers]
    if unanswered:
        raise KemmError(
            f"{task}: {len(unanswered)} of {len(ids)} questions have no human answers (e.g. {unanswered[0]}); "
            "an unannotated split cannot be scored"
        )
    oov = set(vocabulary.out_of_vocabulary(examples)) if vocabulary is not None else set()
    predictions = []
    for i, ex in zip(ids, examples):
        extra = {"question_type": ex.question_type, "gold_in_vocabulary": i not in oov}
        predictions.append(
            Prediction(
                i,
                answers[i],
                list(ex.answers),
                vqa_soft_accuracy(answers[i], ex.answers),
                list((entities or {}).get(i, [])),
                extra,
            )
        )
    relation_of = (
        {i: f.relation for i, f in facts.items()}
        if facts is not None
        else {i: ex.question_type for i, ex in zip(ids, examples)}
    )
    groups = {}
    if facts is not None and heldout is not None:
        groups = breakdown(predictions, entity_groups(facts, heldout), _accuracy)
    if vocabulary is not None:
        groups.update(
            breakdown(
                predictions, {i: "gold_oov" if i in oov else "gold_in_vocabulary" for i in ids}, _accuracy
            )
        )
    counts = {"examples": len(predictions)}
    if vocabulary is not None:
        counts.update({"oov_gold": len(oov), "answer_vocabulary": len(vocabulary)})
    result = TaskResult(
        task=task,
        metrics=_accuracy(predictions),
        counts=counts,
        per_relation=breakdown(predictions, relation_of, _accuracy),
        groups=groups,
        setting=setting,
        info={"links": links},
    )
    return result, predictions
