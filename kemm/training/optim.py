"""Optimisers by name: the ``OPTIMIZERS`` registry and the two-optimiser wrapper for sparse tables.

``nn.Embedding(sparse=True)`` tables produce sparse gradients, which ``Adam``/``AdamW`` cannot
take: under ``adam`` they get :class:`~kemm.training.sparse_adam.RowSparseAdam` (``SparseAdam``'s
update and state, done with index operations: a step costs the batch's rows) and the dense
parameters ``Adam``, stepped together
as one :class:`MultiOptimizer`. Adagrad and SGD handle both kinds themselves.

>>> model = torch.nn.Linear(2, 1)
>>> opt = build_optimizer("adamw", model, lr=1e-3, weight_decay=0.01)
>>> type(opt.optimizers[0]).__name__
'AdamW'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from kemm.errors import KemmError, first_line
from kemm.registry import Registry
from kemm.training.sparse_adam import RowSparseAdam


class MultiOptimizer:
    """Optimisers over disjoint parameter sets, used as one (zero_grad, step, state_dict)."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for o in self.optimizers for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> list[dict]:
        return [o.state_dict() for o in self.optimizers]

    def load_state_dict(self, states: list[dict]) -> None:
        if len(states) != len(self.optimizers):
            raise KemmError(
                f"the checkpoint has {len(states)} optimiser state(s), this run builds {len(self.optimizers)}"
            )
        for o, s in zip(self.optimizers, states):
            o.load_state_dict(s)


def split_sparse(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(sparse, dense)`` parameters: weights of ``nn.Embedding(sparse=True)`` tables, and the rest."""
    sparse_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse}
    params = [p for p in model.parameters() if p.requires_grad]
    return [p for p in params if id(p) in sparse_ids], [p for p in params if id(p) not in sparse_ids]


OPTIMIZERS: Registry[Any] = Registry("optimizer")


def _dense_only(cls: Any, name: str):
    def build(params: nn.Module, lr: float = 1e-3, **kwargs: Any) -> MultiOptimizer:
        sparse, dense = split_sparse(params)
        if sparse:
            raise KemmError(
                f"optimizer {name!r} cannot update sparse embedding tables; use adam, adagrad or sgd"
            )
        return MultiOptimizer([cls(dense, lr=lr, **kwargs)])

    return build


@OPTIMIZERS.register("adam", aliases=("sparseadam",))
def adam(
    params: nn.Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
) -> MultiOptimizer:
    """Adam; sparse tables get ``RowSparseAdam`` (``SparseAdam``'s update) with the same settings."""
    sparse, dense = split_sparse(params)
    opts: list[torch.optim.Optimizer] = []
    if sparse:
        opts.append(RowSparseAdam(sparse, lr=lr, betas=(betas[0], betas[1]), eps=eps))
    if dense:
        opts.append(torch.optim.Adam(dense, lr=lr, betas=(betas[0], betas[1]), eps=eps))
    return MultiOptimizer(opts)


@OPTIMIZERS.register("adamw")
def adamw(
    params: nn.Module,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> MultiOptimizer:
    """AdamW (decoupled weight decay); dense parameters only."""
    return _dense_only(torch.optim.AdamW, "adamw")(
        params, lr=lr, betas=(betas[0], betas[1]), eps=eps, weight_decay=weight_decay
    )


@OPTIMIZERS.register("adagrad")
def adagrad(params: nn.Module, lr: float = 1e-2, weight_decay: float = 0.0) -> MultiOptimizer:
    """Adagrad over sparse and dense parameters alike."""
    sparse, dense = split_sparse(params)
    return MultiOptimizer([torch.optim.Adagrad(sparse + dense, lr=lr, weight_decay=weight_decay)])


@OPTIMIZERS.register("sgd")
def sgd(
    params: nn.Module, lr: float = 1e-2, momentum: float = 0.0, weight_decay: float = 0.0
) -> MultiOptimizer:
    """SGD over sparse and dense parameters alike (momentum and weight decay: dense gradients only)."""
    sparse, dense = split_sparse(params)
    if sparse and (momentum or weight_decay):
        raise KemmError("sgd with momentum or weight_decay cannot update sparse embedding tables")
    return MultiOptimizer(
        [torch.optim.SGD(sparse + dense, lr=lr, momentum=momentum, weight_decay=weight_decay)]
    )


def build_optimizer(
    spec: str | Any, model: nn.Module, source: str | Path | None = None, **kwargs: Any
) -> MultiOptimizer:
    """The optimiser ``spec`` (a registered name, a builder, or a built one) over ``model``'s parameters.

    ``kwargs`` are checked against the optimiser's options (``lr``, ``weight_decay``, ...); an
    unknown key names the nearest valid one. ``params`` is reserved: it is always ``model``.
    """
    if isinstance(spec, (torch.optim.Optimizer, MultiOptimizer)):
        return spec if isinstance(spec, MultiOptimizer) else MultiOptimizer([spec])
    if "params" in kwargs:
        raise KemmError("optimizer option 'params' is reserved: kemm passes the model's parameters itself")
    try:
        return OPTIMIZERS.build(spec, source=source, reserved=("params",), params=model, **kwargs)
    except (TypeError, ValueError) as e:  # a value of the wrong type or range: torch's own check
        where = f"{source}: " if source is not None else ""
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise KemmError(f"{where}optimizer {spec!r} ({given}): {first_line(e)}") from None
