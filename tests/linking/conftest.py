from __future__ import annotations

import pytest

from tests.conftest import FIXTURES

KITCHEN = FIXTURES / "linking" / "kitchen.ttl"
EX = "http://example.org/kg/"


@pytest.fixture(scope="session")
def kitchen_kg():
    """The dozen-entity KG of tests/fixtures/linking/kitchen.ttl (one ambiguous name: "bat")."""
    from kemm.kg import ingest

    kg, _ = ingest([KITCHEN])
    return kg


@pytest.fixture(scope="session")
def linker(kitchen_kg):
    """A linker without an encoder (phrase matching, prior and coherence only)."""
    from kemm.linking import EntityLinker, LinkerConfig

    return EntityLinker.from_kg(kitchen_kg, LinkerConfig(encoder=None))


def make_tiny_yolos(d):
    """Save a randomly initialised YOLOS detector (hidden 32, 64 px images, classes apple and knife) to ``d``."""
    import torch
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    cfg = YolosConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=[64, 64],
        patch_size=16,
        num_detection_tokens=5,
        id2label={0: "apple", 1: "knife"},
        label2id={"apple": 0, "knife": 1},
    )
    torch.manual_seed(0)
    YolosForObjectDetection(cfg).save_pretrained(d)
    YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 64}).save_pretrained(d)
    return d


WORDS = [
    "apple",
    "banana",
    "fruit",
    "food",
    "ice",
    "cream",
    "freezer",
    "knife",
    "cutting",
    "kitchen",
    "bat",
    "baseball",
    "sport",
    "animal",
    "cave",
    "the",
    "a",
    "is",
    "in",
    "night",
    "flying",
    "mammal",
    "club",
]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A randomly initialised BERT (hidden 32, 2 layers) and its WordPiece tokenizer, saved to a temp dir."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny_bert")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = sorted({c for w in WORDS for c in w} | {"##" + c for w in WORDS for c in w})
    vocab = specials + WORDS + pieces + list(".,:;!?-'")
    (d / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(d / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    import torch

    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d
