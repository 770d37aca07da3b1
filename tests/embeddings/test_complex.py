from tests.embeddings.cases import ModelTestCase


class TestComplEx(ModelTestCase):
    name = "complex"
