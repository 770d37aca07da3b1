from tests.embeddings.cases import ModelTestCase


class TestTransE(ModelTestCase):
    name = "transe"


class TestTransEL2(ModelTestCase):
    name = "transe"
    kwargs = {"dim": 8, "p": 2, "normalize_entities": False}


class TestTransESparse(ModelTestCase):
    name = "transe"
    kwargs = {"dim": 8, "sparse": True}
