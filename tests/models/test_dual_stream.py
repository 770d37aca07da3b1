from tests.models.cases import HIDDEN, PATCHES, ArchitectureTestCase, B, R


class TestDualStream(ArchitectureTestCase):
    name = "dual-stream"
    options = {"fusion_streams": ["text", "vision"], "num_cross_layers": 1}
    shapes = {
        "image_hidden": (B, PATCHES, HIDDEN),
        "region_hidden": (B, R, HIDDEN),
        "pooler_output": (B, HIDDEN),
    }
