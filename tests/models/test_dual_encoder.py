from tests.models.cases import HIDDEN, ArchitectureTestCase, B, R


class TestDualEncoder(ArchitectureTestCase):
    name = "dual-encoder"
    options = {"fusion_towers": ["text", "vision"], "projection_dim": 16}
    shapes = {
        "text_embeds": (B, 16),
        "image_embeds": (B, 16),
        "logits_per_text": (B, B),
        "region_hidden": (B, R, HIDDEN),
        "image_pooled": (B, HIDDEN),
    }
