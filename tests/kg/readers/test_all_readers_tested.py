"""Meta-test: every registered format has a fixture file written in that format and is ingested by a test."""

from pathlib import Path

from kemm.kg import READERS

TESTED = {
    "ntriples": "tests/kg/readers/test_rdf.py",
    "nquads": "tests/kg/readers/test_rdf.py",
    "turtle": "tests/kg/readers/test_rdf.py",
    "rdfxml": "tests/kg/readers/test_rdf.py",
    "jsonld": "tests/kg/readers/test_rdf.py",
    "n3": "tests/kg/readers/test_rdf.py",
    "trig": "tests/kg/readers/test_rdf.py",
    "conceptnet": "tests/kg/readers/test_conceptnet.py",
    "tsv": "tests/kg/readers/test_tsv.py",
    "wordnet": "tests/kg/readers/test_wordnet.py",
}


def test_every_registered_reader_has_a_test():
    root = Path(__file__).parents[3]
    assert set(READERS.names()) == set(TESTED), "register the new reader's test here"
    for name, test in TESTED.items():
        assert (root / test).exists(), f"{name}: {test} is missing"
