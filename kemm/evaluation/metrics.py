"""Every metric kemm reports, each implemented once.

The benchmark's chance levels, the KG-embedding evaluator, the evaluation tasks and the benchmark
scripts all call these functions; none computes a metric itself.

================================  ===================================================================
metric                            used by
================================  ===================================================================
:func:`vqa_soft_accuracy`         VQAv2 / OK-VQA / the benchmark's VQA, its chance levels
:func:`multiple_choice_accuracy`  CommonsenseQA, OpenBookQA, A-OKVQA multiple choice
:func:`realistic_rank`            link prediction (:mod:`kemm.embeddings.evaluation`), cloze ranking
:func:`mrr`, :func:`hits_at_k`,   ranks from :func:`realistic_rank`; LAMA's precision@k is
:func:`mean_rank`                 :func:`hits_at_k` (:data:`precision_at_k` is the same function)
:func:`precision_recall_f1`       entity linking (``scripts/bench_linking.py``)
================================  ===================================================================

An empty input is an error (:class:`ValueError`), never a silent 0 or NaN.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# --------------------------------------------------------------------------------------------------
# VQA soft accuracy (the official evaluation: github.com/GT-Vision-Lab/VQA, vqaEval.py)
# --------------------------------------------------------------------------------------------------

#: ``contractions`` of the official code, verbatim (keys with capitals never match: the text is
#: lower-cased first; ``"somebody'd" -> "somebodyd"`` is the official table's own entry).
_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}
#: ``manualMap``: number words to digits (only whole words, after lower-casing).
_NUMBERS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = ("a", "an", "the")
# the official pattern, kept as written: "(?!<=\d)" is a typo for a look-behind, so in effect a
# period is removed unless a digit follows it ("2.5" keeps its point, "dog." loses it)
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PUNCT = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
# the official call is ``periodStrip.sub("", text, re.UNICODE)``: the flag lands in ``count``, so at
# most re.UNICODE (32) periods are removed
_PERIOD_STRIP_COUNT = int(re.UNICODE)


def _process_punctuation(text: str) -> str:
    """``processPunctuation``: drop each punctuation mark, or make it a space when it joins words."""
    out = text
    has_number_comma = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        if p + " " in text or " " + p in text or has_number_comma:
            out = out.replace(p, "")
        else:  # "black/white" -> "black white"
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=_PERIOD_STRIP_COUNT)


def _process_digit_article(text: str) -> str:
    """``processDigitArticle``: lower-case, number words to digits, no articles, contractions."""
    words = [_NUMBERS.get(w, w) for w in text.lower().split()]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES)


def normalize_vqa_answer(answer: str) -> str:
    """A predicted answer as the official VQA evaluation normalises it before comparing.

    Newlines and tabs become spaces and the ends are stripped; punctuation is removed, or becomes a
    space where it joins two words (``"black/white"`` -> ``"black white"``; removed everywhere when
    the text holds a comma between digits, ``"1,000"`` -> ``"1000"``); periods are dropped unless a
    digit follows (``"2.5"`` stays); then the text is lower-cased, number words become digits
    (``"two"`` -> ``"2"``, ``"none"`` -> ``"0"``), the articles a/an/the are dropped and missing
    apostrophes restored (``"dont"`` -> ``"don't"``).

    Human answers are *not* normalised this way (see :func:`vqa_reference_answers`): the VQA
    annotation files already hold normalised answers, and datasets built by kemm store their
    ``answer`` fields in this form too.
    """
    answer = answer.replace("\n", " ").replace("\t", " ").strip()
    return _process_digit_article(_process_punctuation(answer))


def vqa_reference_answers(answers: Sequence[str]) -> list[str]:
    """The human ``answers`` as the official evaluation compares them with a normalised prediction.

    Exactly the official behaviour: when the humans disagree (more than one distinct string), each
    answer gets only the punctuation step of :func:`normalize_vqa_answer` (no lower-casing, no
    number words, no articles); when they all agree, the answers are compared as they are. So
    ``["two"] * 10`` can never be matched (a prediction ``"two"`` is normalised to ``"2"``), while
    ``["2"] * 10`` matches ``"two"``: store answers normalised (:func:`normalize_vqa_answer`), as
    the VQA annotation files do.

    Args:
        answers: the human answers, repeats kept; shape ``(num_humans,)``.

    Returns:
        one string per human answer, in order.
    """
    if len(set(answers)) > 1:
        return [_process_punctuation(a) for a in answers]
    return list(answers)


def vqa_soft_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """The official VQA accuracy of one ``prediction`` against the human ``answers`` (usually 10).

    For each human ``i``, ``min(1, #{other humans j != i whose answer equals the prediction} / 3)``;
    the result is the mean over the humans. With 10 answers, a prediction that matches 4 or more
    scores 1.0, 3 scores 0.9 (``(3 * 2/3 + 7 * 1) / 10``), 2 scores 0.6, 1 scores 0.3, 0 scores 0.

    The prediction is normalised with :func:`normalize_vqa_answer` and compared, case-sensitively,
    with :func:`vqa_reference_answers` (answers punctuation-processed only when the humans
    disagree), as in ``vqaEval.py``: ``("two", ["2"] * 10)`` scores 1.0 but ``("2", ["two"] * 10)``
    scores 0.0, and ``("yes", ["Yes"] * 10)`` scores 0.0 (VQA's answers are stored lower-cased).

    Args:
        prediction: the model's answer, raw text.
        answers: every human answer, repeats kept; shape ``(num_humans,)``.

    Raises:
        ValueError: ``answers`` is empty (an unannotated question has no accuracy).
    """
    if len(answers) == 0:
        raise ValueError("vqa_soft_accuracy: no human answers to score against")
    pred = normalize_vqa_answer(prediction)
    matches = [a == pred for a in vqa_reference_answers(answers)]
    total = sum(matches)
    # leaving human i out, the others that match are total - matches[i]
    return sum(min(1.0, (total - m) / 3) for m in matches) / len(matches)


# --------------------------------------------------------------------------------------------------
# multiple choice
# --------------------------------------------------------------------------------------------------


def multiple_choice_accuracy(predicted_indices: Sequence[int], gold_indices: Sequence[int]) -> float:
    """Fraction of questions whose predicted option index equals the gold one.

    Args:
        predicted_indices: chosen option per question, shape ``(num_questions,)``.
        gold_indices: correct option per question, shape ``(num_questions,)``.

    Raises:
        ValueError: the inputs are empty, differ in length, or a gold index is None (unlabeled).
    """
    pred, gold = list(predicted_indices), list(gold_indices)
    if not gold:
        raise ValueError("multiple_choice_accuracy: no questions")
    if len(pred) != len(gold):
        raise ValueError(f"multiple_choice_accuracy: {len(pred)} predictions for {len(gold)} questions")
    if any(g is None for g in gold):
        raise ValueError("multiple_choice_accuracy: a gold index is None (unlabeled question)")
    return sum(int(p) == int(g) for p, g in zip(pred, gold)) / len(gold)


# --------------------------------------------------------------------------------------------------
# ranking: realistic ranks, MRR, Hits@k
# --------------------------------------------------------------------------------------------------


def realistic_rank(
    scores: torch.Tensor, target: torch.Tensor, filter_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The realistic rank of each row's ``target`` among the row's candidates (higher score better).

    The mean of the optimistic rank ``1 + #{score > true}`` and the pessimistic rank
    ``1 + #{score >= true, other than the target}``: ties share the middle, so a model that gives
    every candidate the same score ranks ``(1 + N) / 2``, not 1 (Berrendorf et al., 2020).

    Shapes:
        scores: ``(B, N)`` float, candidate scores (not modified).
        target: ``(B,)`` long, the true candidate's column in each row.
        filter_mask: ``(B, N)`` bool or None, candidates that do not compete (the filtered setting:
            other known true answers); the target never competes with itself, masked or not.
            Instead of a mask, a caller may set those scores to ``-inf``, which is the same unless
            the target's own score is ``-inf``.
        output: ``(B,)`` float64, ranks in ``[1, N]``.

    Raises:
        ValueError: no rows, or a target score is NaN (it would rank first: every comparison with NaN
            is false).
    """
    import torch  # kemm.evaluation.metrics imports without torch; ranks need it

    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"realistic_rank: expected (B, N) scores with B, N > 0, got {tuple(scores.shape)}")
    true = scores.gather(1, target.view(-1, 1))  # (B, 1)
    if bool(true.isnan().any()):
        raise ValueError("realistic_rank: a target score is NaN")
    if filter_mask is None:
        greater = (scores > true).sum(1, dtype=torch.int32)  # (B,); int32 counts: 40% cheaper
        ties = (scores == true).sum(1, dtype=torch.int32) - 1  # (B,), the target itself left out
    else:
        compete = ~filter_mask  # (B, N)
        compete.scatter_(1, target.view(-1, 1), False)
        greater = ((scores > true) & compete).sum(1, dtype=torch.int32)
        ties = ((scores == true) & compete).sum(1, dtype=torch.int32)
    # mean of optimistic (1 + greater) and pessimistic (1 + greater + ties)
    return 1 + greater.double() + ties.double() / 2


def _ranks(ranks: np.ndarray | torch.Tensor | Sequence[float], name: str) -> np.ndarray:
    """``ranks`` as a float64 array ``(n,)``; ValueError when empty, below 1 or NaN."""
    r = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if r.size == 0:
        raise ValueError(f"{name}: no ranks")
    bad = r[~(r >= 1)]  # ~(r >= 1) also catches NaN
    if bad.size:
        raise ValueError(f"{name}: ranks must be >= 1 (1 is best), got {bad[:3].tolist()}")
    return r


def mrr(ranks: np.ndarray | torch.Tensor | Sequence[float]) -> float:
    """Mean reciprocal rank, in ``(0, 1]``.

    Shapes:
        ranks: ``(n,)``, each ``>= 1`` (1 is best); realistic ranks may be fractional.

    Raises:
        ValueError: no ranks, or a rank below 1 or NaN.
    """
    return float(np.mean(1.0 / _ranks(ranks, "mrr")))


def mean_rank(ranks: np.ndarray | torch.Tensor | Sequence[float]) -> float:
    """Mean rank, ``>= 1`` (lower is better). ``ranks``: ``(n,)``, each ``>= 1``."""
    return float(np.mean(_ranks(ranks, "mean_rank")))


def hits_at_k(ranks: np.ndarray | torch.Tensor | Sequence[float], k: int) -> float:
    """Fraction of ranks ``<= k``, in ``[0, 1]``.

    LAMA's precision@k (the fact's object among the top ``k`` predictions) is this function of the
    object's rank: :data:`precision_at_k` is the same function, not a second implementation.

    Shapes:
        ranks: ``(n,)``, each ``>= 1`` (1 is best).

    Raises:
        ValueError: no ranks, a rank below 1 or NaN, or ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"hits_at_k: k must be >= 1, got {k}")
    return float(np.mean(_ranks(ranks, "hits_at_k") <= k))


#: LAMA's precision@k (Petroni et al., 2019) is Hits@k of the object's rank: the same function.
precision_at_k = hits_at_k


# --------------------------------------------------------------------------------------------------
# set overlap: precision, recall, F1
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 of a set of predictions against a gold set, with the counts.

    Attributes:
        precision: ``tp / (tp + fp)``; 0.0 when nothing was predicted (and gold is not empty).
        recall: ``tp / (tp + fn)``; 0.0 when gold is empty (and something was predicted).
        f1: the harmonic mean ``2 p r / (p + r)``; 0.0 when ``p + r == 0``.
        tp: predicted items that are in gold.
        fp: predicted items that are not in gold.
        fn: gold items that were not predicted.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int


def _unique(items: Iterable[Hashable], name: str) -> set[Hashable]:
    counts = Counter(items)
    repeated = [x for x, c in counts.items() if c > 1]
    if repeated:
        raise ValueError(f"{name} holds {len(repeated)} repeated item(s), e.g. {repeated[0]!r}")
    return set(counts)


def precision_recall_f1(predicted: Iterable[Hashable], gold: Iterable[Hashable]) -> PRF:
    """Micro precision, recall and F1 of ``predicted`` items against ``gold`` items.

    An item is anything hashable that identifies one decision; for entity linking it is
    ``(sentence id, (start, end), entity key)``, so a link counts only when span and entity both
    match. Items are compared as sets: a true positive is an item in both.

    Args:
        predicted: the items a system produced, each at most once.
        gold: the correct items, each at most once.

    Returns:
        :class:`PRF`. Precision is 0.0 when nothing was predicted, recall 0.0 when gold is empty
        (scikit-learn's ``zero_division=0``); F1 is 0.0 when both are 0.

    Raises:
        ValueError: both ``predicted`` and ``gold`` are empty (nothing to score), or either holds an
            item twice (counting a decision twice is a caller's bug, not a score).
    """
    pred = _unique(predicted, "predicted")
    ref = _unique(gold, "gold")
    if not pred and not ref:
        raise ValueError("precision_recall_f1: predicted and gold are both empty")
    tp = len(pred & ref)
    fp = len(pred) - tp
    fn = len(ref) - tp
    precision = tp / (tp + fp) if pred else 0.0
    recall = tp / (tp + fn) if ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return PRF(precision=precision, recall=recall, f1=f1, tp=tp, fp=fp, fn=fn)
