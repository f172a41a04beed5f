"""Small shared helpers: device choice, seeding, argument checks, eval mode."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` to cuda, then mps, then cpu; pass anything else through.

    Raises:
        ValueError: if a named device is not available here.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asked for CUDA but none is available; use 'auto' or 'cpu'"
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run repeats on the same machine."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def check_temperature(temperature: float | Tensor, name: str = "temperature") -> None:
    """Raise ``ValueError`` unless ``temperature`` is a finite number > 0."""
    value = float(temperature.detach()) if isinstance(temperature, Tensor) else temperature
    if isinstance(temperature, Tensor) and temperature.numel() != 1:
        raise ValueError(f"{name} must be a scalar, got shape {tuple(temperature.shape)}")
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {temperature!r}")


def check_matrix(x: Tensor, name: str, min_rows: int = 1) -> None:
    """Raise unless ``x`` is a floating ``(N, D)`` tensor with ``N >= min_rows`` and ``D >= 1``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows or x.shape[1] < 1:
        raise ValueError(
            f"{name} must have at least {min_rows} row(s) and 1 column, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` when two tensors that must pair up row by row differ in shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )


def check_labels(labels: Tensor, n: int, name: str = "labels") -> None:
    """Raise unless ``labels`` is an integer ``(n,)`` tensor."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {tuple(labels.shape)}")
    if labels.is_floating_point():
        raise TypeError(f"{name} must be an integer tensor, got dtype {labels.dtype}")


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode for the block, then restore each one's train/eval mode.

    Restores every submodule's own flag, so a frozen teacher kept in eval mode inside a training
    model stays in eval mode afterwards.

    Example:
        >>> with eval_mode(model), torch.no_grad():
        ...     z = model.embed(x)
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, training in saved:
            m.training = training
