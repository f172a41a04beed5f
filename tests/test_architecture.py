"""Layers only point down (docs/architecture.md): an import, at module or function level, never
reaches a higher layer. The layers, bottom to top:

    0  utils, files, catalog
    1  data, losses, metrics, models, augment, blocks, prototypes, mixtures, generators,
       distributed
    2  train, evaluation, viz
    3  methods
    4  explore
    5  claims, bench, cli
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "contrastkit"
LAYERS = {
    **dict.fromkeys(["utils", "files", "catalog"], 0),
    **dict.fromkeys(
        [
            "data",
            "losses",
            "metrics",
            "models",
            "augment",
            "blocks",
            "prototypes",
            "mixtures",
            "generators",
            "distributed",
        ],
        1,
    ),  # fmt: skip
    **dict.fromkeys(["train", "evaluation", "viz"], 2),
    "methods": 3,
    "explore": 4,
    **dict.fromkeys(["claims", "bench", "cli", "__main__", "__init__"], 5),
}
#: Modules kept only so that an old import path still works: they re-export from where the code
#: moved, which may be a higher layer. Each names its new home.
ALIASES = {"viz/temperature.py": "explore"}
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _component(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    """Top-level contrastkit components imported anywhere in ``path``."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            else:
                target = node.module.split(".") if node.module else []
            if target[:1] != ["contrastkit"]:
                continue
            if len(target) > 1:
                found.add(target[1])
            else:  # from contrastkit import x, y
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "contrastkit" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_every_module_has_a_layer():
    assert {_component(p) for p in MODULES} <= LAYERS.keys() | {"reading_list"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    me = _component(path)
    if me == "__init__":
        return  # the package's lazy re-exports
    alias = str(path.relative_to(PACKAGE))
    if alias in ALIASES:
        assert _imports(path) <= {me, ALIASES[alias]}, f"{alias} is an alias only"
        return
    up = sorted(c for c in _imports(path) if c in LAYERS and c != me and LAYERS[c] > LAYERS[me])
    assert not up, f"{path.relative_to(PACKAGE)} (layer {LAYERS[me]}) imports higher layers: {up}"
