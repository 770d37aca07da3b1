"""Typed training configuration; a YAML file in ``configs/kge/`` holds exactly these fields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemm import config
from kemm.errors import KemmError


@dataclass
class TrainConfig:
    """Everything :func:`kemm.embeddings.run.train_kge` needs besides the KG and the output directory.

    Attributes:
        model: registered model name (``transe``, ``distmult``, ``complex``, ``rotate``, ``rgcn``, ``compgcn``).
        model_kwargs: options of the model's config class (``dim``, ``p``, ``decoder``, ...).
        loop: ``"slcwa"`` (negative sampling) or ``"lcwa"`` (1-vs-all scoring of every (h, r) and (r, t)).
        loss: ``margin``, ``softplus``, ``bce``, ``softmax`` or ``nssa`` (self-adversarial).
        loss_kwargs: options of the loss (``margin``, ``adversarial_temperature``, ``label_smoothing``).
        num_negatives: corruptions per positive triple (sLCWA).
        corruption: ``"bernoulli"`` or ``"uniform"`` choice of the corrupted side (sLCWA).
        filter_negatives: ignore negatives that are training triples (sLCWA).
        optimizer: ``adam``, ``adagrad`` or ``sgd``; sparse embedding tables get ``RowSparseAdam`` (``SparseAdam``'s update) under ``adam``.
        lr: learning rate.
        regularizer: ``None``, ``"l2"`` or ``"n3"`` (Lacroix et al., 2018) on the batch's embeddings.
        regularizer_weight: weight of the regularisation term.
        batch_size: positive triples (sLCWA) or queries (LCWA) per step.
        epochs: passes over the training triples.
        eval_every: validate every this many epochs (0: never; then no early stopping).
        eval_max_triples: validate on at most this many valid triples (a fixed seeded subset; None: all).
        early_stopping_patience: stop after this many validations without a better MRR (0: off).
        checkpoint_every: write a resumable checkpoint every this many epochs (and at the end).
        num_neighbors: GNN models only: neighbours sampled per node and layer (None: full-graph training).
        seed: seed of initialisation, shuffling and negative sampling.
        device: ``cpu`` or ``cuda``.
        amp: bfloat16 autocast on CUDA.
        tensorboard: write TensorBoard event files under ``RUN/tb``.
    """

    model: str = "transe"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    loop: str = "slcwa"
    loss: str = "margin"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    num_negatives: int = 1
    corruption: str = "bernoulli"
    filter_negatives: bool = False
    optimizer: str = "adam"
    lr: float = 0.01
    regularizer: str | None = None
    regularizer_weight: float = 0.0
    batch_size: int = 256
    epochs: int = 100
    eval_every: int = 0
    eval_max_triples: int | None = None
    early_stopping_patience: int = 0
    checkpoint_every: int = 10
    num_neighbors: list[int] | None = None
    seed: int = 0
    device: str = "cpu"
    amp: bool = False
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.loop not in ("slcwa", "lcwa"):
            raise KemmError(f"loop must be 'slcwa' or 'lcwa', got {self.loop!r}")
        if self.regularizer not in (None, "l2", "n3"):
            raise KemmError(f"regularizer must be null, 'l2' or 'n3', got {self.regularizer!r}")
        for name in ("batch_size", "epochs", "num_negatives"):
            if getattr(self, name) < 1:
                raise KemmError(f"{name} must be at least 1, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> TrainConfig:
        """Checked construction: unknown keys and values of the wrong type name key and file."""
        return config.from_dict(cls, data, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        return config.from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
