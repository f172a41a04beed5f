"""Datasets, offline first: generated sets with known factors, bundled digits, and real sets
read from ``data/`` when a user has them. See ``load`` for loading any of them by name."""

from __future__ import annotations

import torch

from .base import ImageData
from .multimodal import MultimodalData, XORData, make_multimodal, make_xor, xor_information
from .real import data_root, load_cifar10, load_digits, load_stl10
from .shapes import SHAPE_NAMES, make_shapes

__all__ = [
    "ImageData",
    "SHAPE_NAMES",
    "data_root",
    "load",
    "load_cifar10",
    "load_digits",
    "load_stl10",
    "make_shapes",
    "MultimodalData",
    "XORData",
    "make_multimodal",
    "make_xor",
    "xor_information",
    "NAMES",
]

NAMES = ("shapes", "digits", "cifar10", "stl10")


def load(
    name: str,
    *,
    train: bool = True,
    n: int | None = None,
    image_size: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> ImageData:
    """Any dataset by name: ``"shapes"``, ``"digits"``, ``"cifar10"`` or ``"stl10"``.

    ``n`` and ``image_size`` apply to ``shapes`` (generated; ``train=False`` draws a disjoint
    seed) and ``image_size`` to ``digits`` (resized). Real sets ignore ``n``.

    Raises:
        ValueError: an unknown name. FileNotFoundError: a real set that is not in ``data/``.
    """
    if name == "shapes":
        kwargs = {} if image_size is None else {"image_size": image_size}
        return make_shapes(
            n or 10_000, seed=seed if train else seed + 10_000, device=device, **kwargs
        )
    if name == "digits":
        return load_digits(image_size or 8, device=device)
    if name == "cifar10":
        return load_cifar10(train=train, device=device)
    if name == "stl10":
        return load_stl10("train" if train else "test", device=device)
    raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(NAMES)}")
