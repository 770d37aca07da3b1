"""EntityEmbeddings: lookup with -1 and bad ids, modes, KGE runs and their KG fingerprint, the KG loss."""

import pytest
import torch

from kemm.errors import KemmError
from kemm.models.entities import EntityEmbeddings, EntityEmbeddingsConfig


@pytest.fixture(scope="module")
def kg_dir(tmp_path_factory):
    from kemm.kg import ingest
    from tests.conftest import FIXTURES

    kg, _ = ingest([FIXTURES / "tsv" / "tiny_split"])
    return kg.save(tmp_path_factory.mktemp("kg") / "tiny")


def _train(kg_dir, out, model, **kw):
    from kemm.embeddings.config import TrainConfig
    from kemm.embeddings.run import train_kge

    cfg = TrainConfig(
        model=model,
        model_kwargs={"dim": 8, **kw},
        loss="softplus",
        num_negatives=2,
        batch_size=8,
        epochs=1,
        seed=0,
    )
    return train_kge(kg_dir, out, cfg, evaluate_test=False).run_dir


def test_lookup_any_shape_and_minus_one_is_zero():
    vec = torch.arange(12.0).view(4, 3)
    emb = EntityEmbeddings.from_tensor(vec)
    ids = torch.tensor([[[2, -1], [0, 3]]])  # (1, 2, 2)
    out = emb(ids)
    assert out.shape == (1, 2, 2, 3)
    assert torch.equal(out[0, 0, 0], vec[2]) and torch.equal(out[0, 1, 1], vec[3])
    assert torch.equal(out[0, 0, 1], torch.zeros(3))
    assert emb(torch.zeros(0, dtype=torch.long)).shape == (0, 3)


def test_id_outside_the_table_names_id_and_size():
    emb = EntityEmbeddings.from_tensor(torch.randn(5, 2))
    with pytest.raises(KemmError, match=r"entity id 9 is outside the entity table of 5 entities"):
        emb(torch.tensor([1, 9, 7]))
    with pytest.raises(KemmError, match="entity id -3 is negative"):
        emb(torch.tensor([-3]))


def test_modes_control_gradients():
    vec = torch.randn(5, 4)
    frozen = EntityEmbeddings.from_tensor(vec)
    assert not frozen.weight.requires_grad and not list(p for p in frozen.parameters() if p.requires_grad)
    tuned = EntityEmbeddings.from_tensor(vec, mode="finetune")
    tuned(torch.tensor([1, -1])).sum().backward()
    assert tuned.weight.grad is not None
    assert tuned.weight.grad[1].abs().sum() > 0 and tuned.weight.grad[0].abs().sum() == 0
    with pytest.raises(KemmError, match="mode must be one of"):
        EntityEmbeddingsConfig(5, 4, mode="thawed")  # type: ignore[arg-type]


def test_finetune_kg_loss_backward_and_anchor():
    torch.manual_seed(0)
    emb = EntityEmbeddings.from_tensor(torch.randn(6, 4), mode="finetune-kg", relations=torch.randn(2, 4))
    triples = torch.tensor([[0, 0, 1], [2, 1, 3], [4, 0, 5]])
    g = torch.Generator().manual_seed(0)
    loss = emb.link_prediction_loss(triples, generator=g)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert emb.weight.grad is not None and emb.weight.grad.abs().sum() > 0
    # relations of the KG score stay frozen
    assert all(not p.requires_grad for p in emb.scorer.parameters())
    # at the original table the anchor term is 0; moving the table away adds exactly anchor * drift
    with torch.no_grad():
        base = emb.link_prediction_loss(triples, generator=torch.Generator().manual_seed(1))
        emb.config.anchor_weight = 0.0
        no_anchor = emb.link_prediction_loss(triples, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(base, no_anchor)
    with pytest.raises(KemmError, match="needs mode 'finetune-kg'"):
        EntityEmbeddings.from_tensor(torch.randn(3, 2)).link_prediction_loss(triples)


def test_finetune_kg_training_lowers_the_kg_loss():
    torch.manual_seed(0)
    emb = EntityEmbeddings.from_tensor(
        torch.randn(6, 8), mode="finetune-kg", relations=torch.randn(2, 8), anchor_weight=0.0
    )
    triples = torch.tensor([[0, 0, 1], [2, 1, 3], [4, 0, 5], [1, 1, 2]])
    opt = torch.optim.Adam([emb.weight], lr=0.05)
    losses = []
    for step in range(30):
        opt.zero_grad()
        loss = emb.link_prediction_loss(triples, generator=torch.Generator().manual_seed(step))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < sum(losses[:5])


@pytest.mark.parametrize("model", ["distmult", "rotate", "rgcn"])
def test_from_kge_run_matches_the_model_and_keeps_its_fingerprint(kg_dir, tmp_path, model):
    from kemm.embeddings.run import load_run, vocabulary_fingerprint

    run = _train(kg_dir, tmp_path / model, model)
    kge, kg = load_run(run)
    kge.eval()
    emb = EntityEmbeddings.from_kge_run(run, mode="finetune-kg")
    assert torch.allclose(emb.weight, kge.entity_embeddings())
    assert emb.config.fingerprint == vocabulary_fingerprint(kg)
    emb.check_kg(kg)
    # the KG loss scores true triples with the run's own score function
    h, r, t = (torch.from_numpy(kg.split("train")[:4, i].astype("int64")) for i in range(3))
    assert torch.allclose(emb.scorer(emb(h), r, emb(t)), kge.score_hrt(h, r, t), atol=1e-5)
    emb.link_prediction_loss(torch.stack([h, r, t], 1)).backward()


def test_kge_run_on_another_kg_is_one_clear_error(kg_dir, tmp_path, tiny_kg):
    run = _train(kg_dir, tmp_path / "run", "distmult")
    with pytest.raises(KemmError, match="mismatched vocabulary"):
        EntityEmbeddings.from_kge_run(run, kg=tiny_kg)
    emb = EntityEmbeddings.from_kge_run(run)
    with pytest.raises(KemmError, match="mismatched vocabulary: the entity vectors"):
        emb.check_kg(tiny_kg)


def test_state_dict_round_trip_through_the_config():
    emb = EntityEmbeddings.from_tensor(torch.randn(4, 3), mode="finetune-kg", relations=torch.randn(2, 3))
    again = EntityEmbeddings(emb.config)
    again.load_state_dict(emb.state_dict())
    ids = torch.tensor([0, 3, -1])
    assert torch.equal(again(ids), emb(ids))
