"""Decoders of the GNN encoder models: score triples from encoded entity and relation vectors.

Each decoder scores one triple per row and, vectorised, all tails of ``(h, r)`` or all heads of
``(r, t)``. Higher scores mean more plausible triples.

Shapes:
    h, r, t: (B, D) vectors; ``ent``: (N, D) every entity's vector.
    score -> (B,); score_tails / score_heads -> (B, N).
"""

from __future__ import annotations

import torch

from kemm.registry import Registry


class Decoder:
    """Base class of the similarity decoders."""

    registered_name = ""

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, ent: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, ent: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


DECODERS: Registry[type[Decoder]] = Registry("decoder", base=Decoder)


@DECODERS.register("distmult")
class DistMultDecoder(Decoder):
    """``<h, r, t>`` (Yang et al., 2015), R-GCN's link-prediction decoder."""

    def score(self, h, r, t):
        return (h * r * t).sum(-1)

    def score_tails(self, h, r, ent):
        return (h * r) @ ent.T  # (B, N)

    def score_heads(self, r, t, ent):
        return (t * r) @ ent.T  # (B, N)


@DECODERS.register("transe")
class TransEDecoder(Decoder):
    """``-||h + r - t||_1`` (Bordes et al., 2013)."""

    def score(self, h, r, t):
        return -torch.linalg.vector_norm(h + r - t, ord=1, dim=-1)

    def score_tails(self, h, r, ent):
        return -torch.cdist(h + r, ent, p=1)  # (B, N)

    def score_heads(self, r, t, ent):
        return -torch.cdist(t - r, ent, p=1)  # (B, N)
