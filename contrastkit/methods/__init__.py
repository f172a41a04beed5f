"""One module per method, each defining a class and ``METHOD = <that class>``.

``REGISTRY`` is a plain dict from a method's name (its module's name, which is also its
catalog key) to its class, built by importing the modules in this folder.
"""

from __future__ import annotations

import importlib
import pkgutil

from torch import Tensor

__all__ = ["REGISTRY", "get", "images"]


def images(batch: Tensor | tuple) -> Tensor:
    """The images of a batch from ``fit``: the tensor itself, or the first of a tuple."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _discover() -> dict[str, type]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "METHOD"):
            found[info.name] = module.METHOD
    return found


REGISTRY: dict[str, type] = _discover()


def get(name: str) -> type:
    """The method class registered under ``name``.

    Raises:
        KeyError: naming the known methods.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]
