import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kemm.kg.split import split_triples


def random_kg(seed, n_ent, n_rel, n_trip):
    rng = np.random.default_rng(seed)
    return np.stack(
        [rng.integers(0, n_ent, n_trip), rng.integers(0, n_rel, n_trip), rng.integers(0, n_ent, n_trip)],
        axis=1,
    ).astype(np.int32)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_ent=st.integers(2, 40),
    n_rel=st.integers(1, 6),
    n_trip=st.integers(1, 400),
    leak=st.booleans(),
)
def test_partition_and_coverage(seed, n_ent, n_rel, n_trip, leak):
    t = random_kg(seed, n_ent, n_rel, n_trip)
    res = split_triples(t, seed=seed, num_entities=n_ent, drop_inverse_leakage=leak)
    allidx = np.concatenate([res.train, res.valid, res.test])
    assert sorted(allidx.tolist()) == list(range(n_trip))  # a partition: nothing lost, nothing twice
    train = t[res.train]
    train_ents = set(train[:, 0]) | set(train[:, 2])
    train_rels = set(train[:, 1])
    for idx in (res.valid, res.test):
        ev = t[idx]
        assert set(ev[:, 0]) | set(ev[:, 2]) <= train_ents
        assert set(ev[:, 1]) <= train_rels
    if leak:
        pairs = {frozenset((h, tl)) for h, _, tl in train.tolist()}
        for idx in (res.valid, res.test):
            assert not any(frozenset((h, tl)) in pairs for h, _, tl in t[idx].tolist())


def test_seeded_and_sized():
    t = random_kg(0, 200, 5, 5000)
    a = split_triples(t, seed=1)
    b = split_triples(t, seed=1)
    c = split_triples(t, seed=2)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)
    assert abs(len(a.valid) - 500) <= 1 and abs(len(a.test) - 500) <= 1


def test_inverse_leakage_moves_reversed_pairs():
    # (0 r 1) and its inverse (1 r' 0): whichever lands in test leaks; it must be moved to train
    t = np.array([[0, 0, 1], [1, 1, 0]] * 1 + [[i, 0, i + 1] for i in range(2, 60)], dtype=np.int32)
    for seed in range(10):
        res = split_triples(t, ratios=(0.5, 0.25, 0.25), seed=seed, drop_inverse_leakage=True)
        ev = set(res.valid.tolist()) | set(res.test.tolist())
        assert not (0 in ev and 1 in res.train) and not (1 in ev and 0 in res.train)
