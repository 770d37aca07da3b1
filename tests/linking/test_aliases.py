import numpy as np

from kemm.linking.aliases import AliasTable, normalize_form, wordnet_sense_ranks
from tests.conftest import FIXTURES
from tests.linking.conftest import EX


def test_labels_and_aliases_are_forms(kitchen_kg):
    table = AliasTable.from_kg(kitchen_kg)
    c = table.candidates("Knives")
    assert [kitchen_kg.entities.keys[i] for i in c.ids] == [EX + "knife"]
    assert table.candidates("ice-cream").ids.tolist() == table.candidates("ice cream").ids.tolist()
    assert len(table.candidates("no such thing").ids) == 0


def test_prior_prefers_label_over_alias(kitchen_kg):
    c = AliasTable.from_kg(kitchen_kg).candidates("bat")
    keys = [kitchen_kg.entities.keys[i] for i in c.ids]
    assert keys == [EX + "bat_animal", EX + "baseball_bat"]
    assert np.isclose(c.prior.sum(), 1.0) and c.prior[0] == 2 * c.prior[1]


def test_normalize_form():
    assert normalize_form("  Ice_Cream  cone ") == "ice cream cone"


def test_wordnet_sense_ranks_from_index_files():
    ranks = wordnet_sense_ranks(FIXTURES / "wordnet")
    assert ranks, "the fixture has index files"
    by_lemma: dict[str, list[float]] = {}
    for (lemma, _), w in ranks.items():
        by_lemma.setdefault(lemma, []).append(w)
    # the first sense of a lemma gets the largest weight
    multi = [ws for ws in by_lemma.values() if len(ws) > 1]
    assert all(max(ws) > min(ws) for ws in multi)


def test_sense_rank_exponent_flattens_the_order():
    full = wordnet_sense_ranks(FIXTURES / "wordnet")
    flat = wordnet_sense_ranks(FIXTURES / "wordnet", exponent=0.25)
    assert full.keys() == flat.keys()
    for key, w in full.items():
        assert np.isclose(flat[key], w**0.25)
    dog = sorted((w for (lemma, _), w in full.items() if lemma == "dog"), reverse=True)
    dog_flat = sorted((w for (lemma, _), w in flat.items() if lemma == "dog"), reverse=True)
    assert dog[0] / dog[1] > dog_flat[0] / dog_flat[1] > 1.0  # the order stays, the gap shrinks
