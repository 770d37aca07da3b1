"""kemm.utils.io: a safetensors file gets the same bytes whatever order its writer put the header in."""

import json
import struct

import torch
from safetensors.torch import load_file, safe_open, save

from kemm.utils.io import sort_safetensors_header

TENSORS = {"b.weight": torch.arange(6.0).view(2, 3), "a.bias": torch.ones(3, dtype=torch.long)}
METADATA = {"format": "pt", "model_type": "single-stream"}


def _reordered(data: bytes, reverse: bool) -> bytes:
    """``data`` with its header keys (and the metadata's) in forward or reverse order, same length."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__")
    order = sorted(header, reverse=reverse)
    meta = {k: meta[k] for k in sorted(meta, reverse=reverse)}
    new = {"__metadata__": meta, **{k: header[k] for k in order}}
    text = json.dumps(new, separators=(",", ":")).encode()
    assert len(text) <= n
    return data[:8] + text.ljust(n, b" ") + data[8 + n :]


def test_any_header_order_gives_the_same_bytes(tmp_path):
    data = save(TENSORS, metadata=METADATA)
    files = []
    for reverse in (False, True):
        path = tmp_path / f"{reverse}.safetensors"
        path.write_bytes(_reordered(data, reverse))
        files.append(path)
    assert files[0].read_bytes() != files[1].read_bytes()
    for path in files:
        sort_safetensors_header(path)
    assert files[0].read_bytes() == files[1].read_bytes()
    loaded = load_file(str(files[1]))
    assert loaded.keys() == TENSORS.keys()
    for k, v in TENSORS.items():
        assert torch.equal(loaded[k], v)
    with safe_open(str(files[1]), "pt") as f:
        assert f.metadata() == METADATA
