from tests.models.cases import HIDDEN, PATCHES, ArchitectureTestCase, B, L, R


class TestSingleStream(ArchitectureTestCase):
    name = "single-stream"
    shapes = {
        "text_hidden": (B, L, HIDDEN),
        "image_hidden": (B, PATCHES, HIDDEN),
        "region_hidden": (B, R, HIDDEN),
        "pooler_output": (B, HIDDEN),
    }


class TestSingleStreamViTLayers(TestSingleStream):
    """Grid features: the ViT's own layers run before the joint transformer."""

    options = {"vision_encoder": True}
