from tests.embeddings.cases import ModelTestCase


class TestRotatE(ModelTestCase):
    name = "rotate"
