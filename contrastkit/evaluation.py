"""Evaluating a representation: embeddings in eval mode, kNN and linear probes, one summary.

Every notebook and command measures a trained encoder the same way:

    z_train, z_test = embed(model, train.x), embed(model, test.x)     (N, D) on the CPU
    evaluate(model, train, test, probes=("knn", "linear"))           {"knn": .., "linear": ..}
    probe_features(z_train, y_train, z_test, y_test, probes=...)    the same on given features
    predict = fit_linear_probe(z_train, y_train); predict(z_test)   the probe itself
    method, hist, scores = train_and_probe(make, data, train, test, seed=0, steps=300)
                                                            seed, build, fit, probe in one call

kNN (cosine, k neighbours vote with weight exp(sim / 0.07), as in Wu et al. 2018) and the linear
probe (multinomial logistic regression on standardised features, L-BFGS) are implemented in
:mod:`contrastkit.metrics` beside the other measures of a representation; this module runs them
on a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .data.base import ImageData
from .metrics import fit_linear_probe, knn_accuracy, linear_probe_accuracy, tolerance, uniformity
from .train import History, fit
from .utils import eval_mode, seed_everything

__all__ = [
    "PROBES",
    "embed",
    "evaluate",
    "fit_linear_probe",
    "knn_accuracy",
    "linear_probe_accuracy",
    "probe_features",
    "train_and_probe",
]

#: Names ``evaluate`` and ``probe_features`` accept in ``probes``.
PROBES = ("knn", "linear", "uniformity", "tolerance")


@torch.no_grad()
def embed(
    method: nn.Module | Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 1024
) -> Tensor:
    """Embeddings of ``x`` in eval mode, in batches, returned on the CPU as float32.

    ``method`` is anything with ``embed(x)``, or a callable (e.g. an encoder). A module is put in
    eval mode for the call and each submodule's own mode is restored afterwards.
    """
    fn = method.embed if hasattr(method, "embed") else method
    if isinstance(method, nn.Module):
        first = next(method.parameters(), None)
        dev = first.device if first is not None else x.device
        with eval_mode(method):
            out = [
                fn(x[i : i + batch_size].to(dev)).float().cpu()
                for i in range(0, len(x), batch_size)
            ]
    else:
        out = [fn(x[i : i + batch_size]).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def probe_features(
    z_train: Tensor,
    y_train: Tensor,
    z_test: Tensor,
    y_test: Tensor,
    probes: Sequence[str] = ("knn", "linear"),
    k: int = 20,
) -> dict[str, float]:
    """Probe given features: kNN / linear accuracy, uniformity and tolerance of ``z_test``.

    Args:
        z_train, z_test: features (N, D); moved to the CPU.
        y_train, y_test: integer labels (N,).
        probes: any of :data:`PROBES`, in the order the result lists them.
        k: neighbours of the kNN probe.

    Returns:
        ``{name: value}`` for each probe asked: ``"knn"``, ``"linear"`` (accuracies),
        ``"uniformity"`` (-L_unif: higher is more uniform), ``"tolerance"``.

    Raises:
        ValueError: for an unknown probe name.
    """
    unknown = [p for p in probes if p not in PROBES]
    if unknown:
        raise ValueError(f"probes must be among {PROBES}, got {unknown}")
    ztr, zte, ytr, yte = z_train.cpu(), z_test.cpu(), y_train.cpu(), y_test.cpu()
    out: dict[str, float] = {}
    for name in probes:
        if name == "knn":
            out[name] = knn_accuracy(ztr, ytr, zte, yte, k=k)
        elif name == "linear":
            out[name] = linear_probe_accuracy(ztr, ytr, zte, yte)
        elif name == "uniformity":
            out[name] = float(-uniformity(zte))
        else:
            out[name] = float(tolerance(zte, yte))
    return out


def evaluate(
    method: nn.Module | Callable[[Tensor], Tensor] | None,
    train: ImageData,
    test: ImageData,
    probes: Sequence[str] | None = None,
    k: int = 20,
    linear: bool = False,
) -> dict[str, float]:
    """Probe a model's representation of ``train`` and ``test``.

    Args:
        method: anything :func:`embed` takes; ``None`` probes the raw inputs, flattened (the
            baseline every image notebook compares with).
        train, test: labelled data (``.x``, ``.y``).
        probes: any of :data:`PROBES`; default ``("knn", "uniformity", "tolerance")``, plus
            ``"linear"`` after ``"knn"`` when ``linear=True`` (the older spelling).
        k: neighbours of the kNN probe.

    Returns:
        ``{name: value}``, see :func:`probe_features`.
    """
    if probes is None:
        probes = ("knn", "linear", "uniformity", "tolerance") if linear else (
            "knn", "uniformity", "tolerance")  # fmt: skip
    if method is None:
        ztr, zte = train.x.flatten(1).float().cpu(), test.x.flatten(1).float().cpu()
    else:
        ztr, zte = embed(method, train.x), embed(method, test.x)
    return probe_features(ztr, train.y, zte, test.y, probes=probes, k=k)


def train_and_probe(
    make: Callable[[], nn.Module],
    data: Any,
    train: Any,
    test: Any,
    probes: Sequence[str] = ("knn",),
    seed: int = 0,
    k: int = 20,
    **fit_kwargs: Any,
) -> tuple[nn.Module, History, dict[str, float]]:
    """Seed, build a method, train it, probe it: one run of a notebook's grid of conditions.

    ``seed_everything(seed)`` comes first, so the method's initialisation is the seed's; then
    ``fit(method, data, seed=seed, **fit_kwargs)`` and ``evaluate(method, train, test, probes)``.

    Args:
        make: builds the method (e.g. ``functools.partial(AdaInf, 32, strength=0.3)``).
        data: what ``fit`` trains on (a Tensor, an ``ImageData`` or a tuple of tensors).
        train, test: labelled data (``.x``, ``.y``) for the probes: the reference set and the
            held-out set.
        probes, k: as in :func:`evaluate`. seed: seeds the initialisation, batches, augmentations.
        **fit_kwargs: ``steps``, ``batch_size``, ``lr``, ``device``, ``progress``, ...

    Returns:
        ``(method, history, scores)``.

    Example:
        >>> model, hist, scores = train_and_probe(
        ...     partial(AdaInf, 32), rows, reference, test, steps=300, batch_size=256)
        >>> scores["knn"]
    """
    seed_everything(seed)
    method = make()
    hist = fit(method, data, seed=seed, **fit_kwargs)
    return method, hist, evaluate(method, train, test, probes=probes, k=k)
