"""One module per method, each defining a :class:`~contrastkit.methods.base.Method` subclass
and ``METHOD = <that class>``; ``base`` holds the contract (read it first).

``REGISTRY`` is a plain mapping from a method's name (its module's name, which is also its
catalog key) to its class. It lists the modules of this folder without importing them; a
method's module is imported the first time its class is asked for, so ``import contrastkit``
and ``contrastkit list`` stay fast.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping

from .base import INPUT_KINDS, Example, Method, TwoViewMethod, images

__all__ = ["INPUT_KINDS", "REGISTRY", "Example", "Method", "TwoViewMethod", "get", "images"]

_NOT_METHODS = {"base"}


class _Registry(Mapping):
    """name -> method class; a module is imported on first access to its class."""

    def __init__(self) -> None:
        self._names = sorted(
            info.name
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name not in _NOT_METHODS
        )

    def __getitem__(self, name: str) -> type[Method]:
        if name not in self._names:
            raise KeyError(name)
        return importlib.import_module(f"{__name__}.{name}").METHOD

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"REGISTRY({', '.join(self._names)})"


REGISTRY: Mapping[str, type[Method]] = _Registry()


def get(name: str) -> type[Method]:
    """The method class registered under ``name``.

    Raises:
        KeyError: naming the known methods.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]
