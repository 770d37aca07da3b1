from tests.embeddings.cases import ModelTestCase


class TestDistMult(ModelTestCase):
    name = "distmult"
