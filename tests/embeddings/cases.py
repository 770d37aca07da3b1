"""Generic test case run for every registered KG embedding model (STYLE.md section 7).

A model's test module subclasses :class:`ModelTestCase` and sets ``name`` (and, if needed, ``kwargs``).
"""

from __future__ import annotations

import torch

from kemm.embeddings import build_model, load_model

NUM_ENTITIES, NUM_RELATIONS, BATCH = 12, 3, 5
EDGES = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 5]])
EDGE_TYPES = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])


class ModelTestCase:
    name: str = ""
    kwargs: dict = {"dim": 8}

    def make(self, seed: int = 0):
        torch.manual_seed(seed)
        return build_model(self.name, NUM_ENTITIES, NUM_RELATIONS, graph=(EDGES, EDGE_TYPES), **self.kwargs)

    def batch(self):
        g = torch.Generator().manual_seed(1)
        h = torch.randint(NUM_ENTITIES, (BATCH,), generator=g)
        r = torch.randint(NUM_RELATIONS, (BATCH,), generator=g)
        t = torch.randint(NUM_ENTITIES, (BATCH,), generator=g)
        return h, r, t

    def test_shapes_and_consistency(self):
        model = self.make().eval()
        h, r, t = self.batch()
        with torch.no_grad():
            s = model.score_hrt(h, r, t)
            st = model.score_t(h, r)
            sh = model.score_h(r, t)
        assert s.shape == (BATCH,)
        assert st.shape == sh.shape == (BATCH, NUM_ENTITIES)
        rows = torch.arange(BATCH)
        torch.testing.assert_close(st[rows, t], s, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(sh[rows, h], s, atol=1e-5, rtol=1e-5)
        assert model.entity_embeddings().shape[0] == NUM_ENTITIES
        assert model.relation_embeddings().shape[0] == NUM_RELATIONS

    def test_backward(self):
        model = self.make().train()
        h, r, t = self.batch()
        loss = -model.score_hrt(h, r, t).sum() + model.score_t(h, r).logsumexp(1).sum()
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads, "no parameter received a gradient"
        assert all(torch.isfinite(g.to_dense()).all() for g in grads)

    def test_save_load_round_trip(self, tmp_path):
        model = self.make().eval()
        model.save(tmp_path / "m")
        loaded = load_model(tmp_path / "m").eval()
        assert type(loaded) is type(model) and loaded.config == model.config
        h, r, t = self.batch()
        with torch.no_grad():
            torch.testing.assert_close(loaded.score_t(h, r), model.score_t(h, r))

    def test_seed_determinism(self):
        a, b, c = self.make(0), self.make(0), self.make(1)
        sa, sb, sc = (m.state_dict() for m in (a, b, c))
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
