"""Regularisers of the embedding rows a batch used: the ``REGULARIZERS`` registry (``l2``, ``n3``).

A regulariser takes the model (for ``is_complex``) and the batch's rows (each ``(B, dim)``, from
:meth:`KGEModel.regularization_terms`) and returns a scalar: the mean over the terms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from kemm.embeddings.base import KGEModel
from kemm.registry import Registry

Regularizer = Callable[[KGEModel, list[torch.Tensor]], torch.Tensor]

REGULARIZERS: Registry[Regularizer] = Registry("regularizer")


@REGULARIZERS.register("l2")
def l2(model: KGEModel, terms: list[torch.Tensor]) -> torch.Tensor:
    """Mean squared L2 norm of the rows."""
    total = terms[0].new_zeros(())
    for x in terms:
        total = total + x.pow(2).sum(-1).mean()
    return total / max(1, len(terms))


@REGULARIZERS.register("n3")
def n3(model: KGEModel, terms: list[torch.Tensor]) -> torch.Tensor:
    """Mean cubed modulus (Lacroix et al., 2018); complex rows ``[re | im]`` use the complex modulus."""
    total = terms[0].new_zeros(())
    for x in terms:
        if model.is_complex:
            d = x.shape[-1] // 2
            x = torch.sqrt(x[..., :d] ** 2 + x[..., d:] ** 2 + 1e-12)
        total = total + x.abs().pow(3).sum(-1).mean()
    return total / max(1, len(terms))


def regularization(model: KGEModel, terms: list[torch.Tensor], kind: str) -> torch.Tensor:
    """The regulariser ``kind`` (``"l2"`` or ``"n3"``) of ``terms``."""
    return REGULARIZERS.get(kind)(model, terms)
