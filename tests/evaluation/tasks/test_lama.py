"""``lama`` scoring: the LAMA word protocol (multi-token objects counted, not scored), ranks, P@k, MRR."""

from __future__ import annotations

import pytest
import torch

from kemm.data import ClozeExample
from kemm.errors import KemmError
from kemm.evaluation.facts import Fact
from kemm.evaluation.tasks.lama import (
    ClozeScores,
    gold_columns,
    score_cloze,
    train_prior_scores,
    word_protocol,
)


def _c(i, answer, relation="IsA"):
    return ClozeExample(i, ["A thing is a [MASK]."], answer, subject="thing", relation=relation)


EXAMPLES = [_c("p1", "fruit"), _c("p2", "tool"), _c("p3", "hot dog"), _c("p4", "zebra", "AtLocation")]
VOCAB = ["fruit", "tool", "hot dog", "kitchen"]


def test_word_protocol_counts_what_it_does_not_score():
    proto = word_protocol(EXAMPLES, VOCAB)
    assert proto.candidates == ["fruit", "tool", "kitchen"]
    assert (proto.scored, proto.multi_token, proto.outside_vocabulary) == (["p1", "p2"], ["p3"], ["p4"])


def test_ranks_p_at_k_and_mrr():
    proto = word_protocol(EXAMPLES, VOCAB)
    scores = torch.tensor([[3.0, 1.0, 2.0], [1.0, 1.0, 5.0]])  # p1: fruit first; p2: tool tied 2nd-3rd
    gold = gold_columns(proto.scored, {"p1": "fruit", "p2": "tool"}, proto.candidates)
    ent = ClozeScores(["p3"], ["ex:hot_dog", "ex:fruit"], torch.tensor([[0.5, 0.1]]), [0])
    facts = {"p3": Fact("p3", "ex:thing", "IsA", ("ex:hot_dog",))}
    res, preds = score_cloze(
        "lama", EXAMPLES, ClozeScores(proto.scored, proto.candidates, scores, gold), ent, proto, facts
    )
    # realistic ranks: p1 1, p2 (2 + 3) / 2 = 2.5
    assert res.metrics["p_at_1"] == 0.5 and res.metrics["p_at_10"] == 1.0
    assert res.metrics["mrr"] == pytest.approx((1 + 1 / 2.5) / 2)
    assert res.metrics["entity_p_at_1"] == 1.0 and res.metrics["entity_mrr"] == 1.0
    assert res.counts == {
        "examples": 4,
        "scored_words": 2,
        "scored_entities": 1,
        "multi_token_objects": 1,
        "objects_outside_vocabulary": 1,
        "word_candidates": 3,
    }
    by_id = {p.id: p for p in preds}
    assert by_id["p2"].extra["rank"] == 2.5 and by_id["p2"].extra["top10"][0] == "kitchen"
    assert by_id["p3"].extra["rank"] is None and by_id["p3"].extra["entity_prediction"] == "ex:hot_dog"
    assert by_id["p4"].prediction is None and by_id["p4"].correct is False


def test_train_prior_scores_count_objects_per_relation():
    s = train_prior_scores(
        ["IsA", "IsA", "IsA", "AtLocation"], ["tool", "tool", "fruit", "kitchen"], ["IsA", "HasA"], VOCAB
    )
    assert s.tolist() == [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_bad_input():
    with pytest.raises(KemmError, match="1 of 1 probes have an object that is not a candidate"):
        gold_columns(["p1"], {"p1": "zebra"}, ["fruit"])
    with pytest.raises(KemmError, match="shape"):
        ClozeScores(["p1"], ["a", "b"], torch.zeros(2, 2), [0])
    with pytest.raises(KemmError, match="neither"):
        score_cloze("lama", EXAMPLES, None)
    with pytest.raises(KemmError, match="no probes"):
        score_cloze("lama", [], None)
