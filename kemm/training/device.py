"""Device choice: ``auto`` picks CUDA when present; asking for CUDA without it is a one-line error."""

from __future__ import annotations

import os

import torch

from kemm.errors import KemmError


def resolve_device(name: str | torch.device = "auto", local_rank: int | None = None) -> torch.device:
    """``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` -> a usable :class:`torch.device`.

    Args:
        local_rank: under torchrun, the process's GPU (``"cuda"`` and ``"auto"`` become
            ``cuda:LOCAL_RANK``; default: the ``LOCAL_RANK`` environment variable when set).

    Raises:
        KemmError: CUDA was asked for and this torch build or machine has none, or the index is
            out of range; the message says which, in one line.
    """
    text = str(name).strip().lower()
    if local_rank is None and "LOCAL_RANK" in os.environ:
        local_rank = int(os.environ["LOCAL_RANK"])
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return torch.device("cpu")
    if not text.startswith("cuda"):
        raise KemmError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    if torch.version.cuda is None:
        raise KemmError(
            f"--device {name} asked for CUDA, but this torch build ({torch.__version__}) has no CUDA "
            "support; use --device cpu or install a CUDA build of torch"
        )
    if not torch.cuda.is_available():
        raise KemmError(f"--device {name} asked for CUDA, but no CUDA GPU is visible; use --device cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise KemmError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.index is None:
        device = torch.device("cuda", local_rank or 0)
    if device.index >= torch.cuda.device_count():
        raise KemmError(
            f"--device {device} does not exist: {torch.cuda.device_count()} CUDA device(s) are visible"
        )
    return device
