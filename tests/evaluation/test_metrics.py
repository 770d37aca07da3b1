"""Every metric of kemm.evaluation.metrics on hand-computed cases, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kemm.evaluation.metrics import (
    PRF,
    hits_at_k,
    mean_rank,
    mrr,
    multiple_choice_accuracy,
    normalize_vqa_answer,
    precision_at_k,
    precision_recall_f1,
    realistic_rank,
    vqa_reference_answers,
    vqa_soft_accuracy,
)

OTHERS = ["dog", "bird", "fish", "cow", "pig", "hen", "rat", "ant", "bee", "elk"]

# --------------------------------------------------------------------------------------------------
# VQA soft accuracy
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matching", "expected"),
    [
        (0, 0.0),
        # 1 match: the 9 subsets that keep it hold 1/3, the one that leaves it out 0
        (1, (9 * (1 / 3) + 1 * 0) / 10),  # 0.3
        # 2 matches: 8 subsets hold both (2/3), 2 hold one (1/3)
        (2, (8 * (2 / 3) + 2 * (1 / 3)) / 10),  # 0.6
        # 3 matches: 7 subsets hold all three (min(1, 3/3) = 1), 3 hold two (2/3)
        (3, (7 * 1 + 3 * (2 / 3)) / 10),  # 0.9
        # 4 matches: every subset holds at least 3
        (4, 1.0),
        (10, 1.0),
    ],
)
def test_vqa_soft_accuracy_by_number_of_matching_humans(matching, expected):
    answers = ["cat"] * matching + OTHERS[matching:]
    assert len(answers) == 10
    assert vqa_soft_accuracy("cat", answers) == pytest.approx(expected)


def test_vqa_soft_accuracy_leave_one_out_with_fewer_humans():
    # 3 humans, 2 say "cat": leaving out a "cat" leaves 1 match (1/3), leaving out "dog" leaves 2
    assert vqa_soft_accuracy("cat", ["cat", "cat", "dog"]) == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    assert vqa_soft_accuracy("cat", ["cat"]) == 0.0  # the only human left out: nobody else agrees


def test_vqa_soft_accuracy_where_the_two_old_functions_disagreed():
    # the prediction is always normalised: number words become digits ...
    assert vqa_soft_accuracy("two", ["2"] * 10) == 1.0
    # ... but unanimous human answers are compared as they are (official vqaEval.py): a stored "two"
    # cannot be matched, which is why VQA (and the benchmark) store answers normalised
    assert vqa_soft_accuracy("2", ["two"] * 10) == 0.0
    assert vqa_soft_accuracy("two", ["two"] * 10) == 0.0
    assert vqa_soft_accuracy("2", [normalize_vqa_answer("two")] * 10) == 1.0
    # the prediction's punctuation is processed even when the humans agree
    assert vqa_soft_accuracy("yes.", ["yes"] * 10) == 1.0
    # comparison is case-sensitive after the prediction is lower-cased
    assert vqa_soft_accuracy("YES", ["yes"] * 10) == 1.0
    assert vqa_soft_accuracy("yes", ["Yes"] * 10) == 0.0


def test_vqa_soft_accuracy_articles():
    assert vqa_soft_accuracy("a dog", ["dog"] * 10) == 1.0
    assert vqa_soft_accuracy("The dog", ["dog"] * 5 + ["cat"] * 5) == 1.0
    # human answers never lose their articles
    assert vqa_soft_accuracy("dog", ["a dog"] * 5 + ["cat"] * 5) == 0.0
    assert vqa_soft_accuracy("theatre", ["theatre"] * 10) == 1.0  # whole words only


def test_vqa_soft_accuracy_punctuation():
    assert vqa_soft_accuracy("black/white", ["black white"] * 10) == 1.0  # joining mark -> space
    assert vqa_soft_accuracy("black / white", ["black white"] * 10) == 1.0  # next to a space: removed
    assert vqa_soft_accuracy("1,000", ["1000"] * 10) == 1.0  # comma between digits: all removed
    assert vqa_soft_accuracy("2.5", ["2.5"] * 10) == 1.0  # a period before a digit stays
    assert vqa_soft_accuracy("yes!", ["yes"] * 10) == 1.0
    # humans' punctuation is processed only when they disagree
    assert vqa_soft_accuracy("black white", ["black/white"] * 4 + ["grey"] * 6) == 1.0
    assert vqa_soft_accuracy("black white", ["black/white"] * 10) == 0.0


def test_vqa_soft_accuracy_contractions_and_whitespace():
    assert vqa_soft_accuracy("dont know", ["don't know"] * 10) == 1.0
    assert vqa_soft_accuracy("don't", ["don't"] * 10) == 1.0  # the apostrophe is not punctuation here
    assert vqa_soft_accuracy(" yes\n", ["yes"] * 10) == 1.0
    assert vqa_soft_accuracy("oclock", ["o'clock"] * 10) == 1.0


def test_vqa_soft_accuracy_mixed_humans():
    answers = ["2", "2", "2", "two", "2", "3", "2", "2", "1", "2"]
    assert vqa_soft_accuracy("2", answers) == 1.0
    assert vqa_soft_accuracy("Two", answers) == 1.0
    assert vqa_soft_accuracy("three.", answers) == pytest.approx(0.3)
    colours = ["green", "green", "blue", "green", "light green", "green", "teal", "green", "blue", "green"]
    assert vqa_soft_accuracy("Green.", colours) == 1.0
    assert vqa_soft_accuracy("the teal!", colours) == pytest.approx(0.3)
    assert vqa_soft_accuracy("blue", colours) == pytest.approx(0.6)
    assert vqa_soft_accuracy("light-green", colours) == pytest.approx(0.3)


def test_vqa_soft_accuracy_rejects_no_answers():
    with pytest.raises(ValueError, match="no human answers"):
        vqa_soft_accuracy("yes", [])


def test_normalize_vqa_answer():
    assert normalize_vqa_answer("Two dogs.") == "2 dogs"
    assert normalize_vqa_answer("none") == "0"
    assert normalize_vqa_answer("a man") == "man"
    assert normalize_vqa_answer("black/white") == "black white"
    assert normalize_vqa_answer("3.5") == "3.5"
    assert normalize_vqa_answer("  the\tred (ish) one\n") == "red ish 1"
    assert normalize_vqa_answer("x, y") == "x y"
    # the official call passes re.UNICODE (32) as sub's count: at most 32 periods are removed
    assert normalize_vqa_answer("x" + "." * 40) == "x" + "." * 8


def test_vqa_reference_answers():
    assert vqa_reference_answers(["Black/White"] * 3) == ["Black/White"] * 3
    assert vqa_reference_answers(["Black/White", "grey."]) == ["Black White", "grey"]


# --------------------------------------------------------------------------------------------------
# multiple choice
# --------------------------------------------------------------------------------------------------


def test_multiple_choice_accuracy():
    assert multiple_choice_accuracy([0, 2, 1, 4], [0, 1, 1, 4]) == 0.75
    assert multiple_choice_accuracy(np.array([3]), [3]) == 1.0


def test_multiple_choice_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="no questions"):
        multiple_choice_accuracy([], [])
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        multiple_choice_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="unlabeled"):
        multiple_choice_accuracy([0], [None])  # type: ignore[list-item]


# --------------------------------------------------------------------------------------------------
# ranking
# --------------------------------------------------------------------------------------------------


def test_realistic_rank_ties_share_the_middle():
    scores = torch.zeros(1, 11)
    assert realistic_rank(scores, torch.tensor([4])).tolist() == [6.0]  # optimistic 1, pessimistic 11
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5]])
    before = scores.clone()
    # row 0, target 1: one higher (0.9), two ties -> (2 + 4) / 2; row 1, target 4: best, no ties
    ranks = realistic_rank(scores, torch.tensor([1, 4]))
    assert ranks.dtype == torch.float64 and ranks.tolist() == [3.0, 1.0]
    assert torch.equal(scores, before)  # not modified


def test_realistic_rank_filtered():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1, 0.5]])
    mask = torch.tensor([[True, True, False, False, False]])  # 0.9 is another true answer
    # the target's own mask entry is ignored: filter sets usually include the test triple
    assert realistic_rank(scores, torch.tensor([1]), mask).tolist() == [2.0]  # ties with 2 and 4
    assert realistic_rank(scores, torch.tensor([0]), mask).tolist() == [1.0]
    assert mask.tolist() == [[True, True, False, False, False]]  # not modified


def test_realistic_rank_rejects_nan_and_empty():
    with pytest.raises(ValueError, match="NaN"):
        realistic_rank(torch.tensor([[float("nan"), 1.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="expected"):
        realistic_rank(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))


def test_mrr_hits_mean_rank():
    ranks = [1, 2, 4, 2.5]
    assert mrr(ranks) == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 2.5) / 4)
    assert mean_rank(np.array(ranks)) == pytest.approx(9.5 / 4)
    assert hits_at_k(torch.tensor(ranks), 1) == 0.25
    assert hits_at_k(ranks, 2) == 0.5  # 2.5 is not within the top 2
    assert hits_at_k(ranks, 10) == 1.0
    assert precision_at_k is hits_at_k  # LAMA's P@k: the same function


@pytest.mark.parametrize("fn", [mrr, mean_rank, lambda r: hits_at_k(r, 1)])
def test_rank_metrics_reject_empty_and_invalid_ranks(fn):
    with pytest.raises(ValueError, match="no ranks"):
        fn([])
    with pytest.raises(ValueError, match=">= 1"):
        fn([1, 0])
    with pytest.raises(ValueError, match=">= 1"):
        fn([float("nan")])


def test_hits_at_k_rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be"):
        hits_at_k([1], 0)


# --------------------------------------------------------------------------------------------------
# precision, recall, F1
# --------------------------------------------------------------------------------------------------


def test_precision_recall_f1_counts_and_ratios():
    gold = [("s1", (0, 5), "apple"), ("s1", (9, 14), "pear"), ("s2", (0, 3), "cat")]
    predicted = [
        ("s1", (0, 5), "apple"),
        ("s1", (9, 14), "plum"),
        ("s2", (4, 7), "dog"),
        ("s2", (0, 3), "cat"),
    ]
    prf = precision_recall_f1(predicted, gold)
    assert (prf.tp, prf.fp, prf.fn) == (2, 2, 1)
    assert prf.precision == pytest.approx(2 / 4)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # 4/7


def test_precision_recall_f1_perfect_and_disjoint():
    assert precision_recall_f1({"a", "b"}, ["b", "a"]) == PRF(1.0, 1.0, 1.0, tp=2, fp=0, fn=0)
    assert precision_recall_f1(["a"], ["b"]) == PRF(0.0, 0.0, 0.0, tp=0, fp=1, fn=1)


def test_precision_recall_f1_one_side_empty():
    # nothing predicted: precision 0 by convention, recall 0 from the counts
    assert precision_recall_f1([], ["a", "b"]) == PRF(0.0, 0.0, 0.0, tp=0, fp=0, fn=2)
    # no gold: recall 0 by convention
    assert precision_recall_f1(iter(["a"]), []) == PRF(0.0, 0.0, 0.0, tp=0, fp=1, fn=0)


def test_precision_recall_f1_rejects_empty_and_repeated_items():
    with pytest.raises(ValueError, match="both empty"):
        precision_recall_f1([], [])
    with pytest.raises(ValueError, match="predicted holds 1 repeated"):
        precision_recall_f1(["a", "a"], ["a"])
    with pytest.raises(ValueError, match="gold holds 1 repeated"):
        precision_recall_f1(["a"], ["b", "b"])


def test_prf_is_frozen():
    prf = precision_recall_f1(["a"], ["a"])
    with pytest.raises(AttributeError):
        prf.f1 = 0.0  # type: ignore[misc]
