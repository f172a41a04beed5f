"""contrastkit: contrastive representation learning, paper by paper, offline and measured.

    import contrastkit as ck
    data = ck.data.make_shapes(4000, image_size=16)
    model = ck.methods.get("simclr")(ck.models.SmallConvNet())
    ck.fit(model, data.x, steps=300)
    ck.evaluate(model, train, test, probes=("knn", "linear"))

Public names are re-exported here; the modules hold the implementations. Everything is imported
on first use (PEP 562), so ``import contrastkit`` is instant and loads neither torch, plotly nor
any method module until a name that needs them is touched. ``docs/architecture.md`` maps the
layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Submodules reachable as ``ck.<name>``.
_MODULES = (
    "augment",
    "blocks",
    "catalog",
    "claims",
    "data",
    "evaluation",
    "explore",
    "files",
    "generators",
    "losses",
    "methods",
    "metrics",
    "mixtures",
    "models",
    "prototypes",
    "train",
    "utils",
    "viz",
)

#: Re-exported names: name -> the module that defines it.
_NAMES = {
    "AugmentConfig": "augment",
    "views": "augment",
    "ImageData": "data",
    "load_digits": "data",
    "make_shapes": "data",
    "align_uniform_loss": "losses",
    "barlow_twins_loss": "losses",
    "vicreg_loss": "losses",
    "clip_loss": "losses",
    "hard_contrastive": "losses",
    "info_nce": "losses",
    "negative_cosine": "losses",
    "nt_xent": "losses",
    "simple_contrastive": "losses",
    "supcon": "losses",
    "alignment": "metrics",
    "effective_negatives": "metrics",
    "effective_rank": "metrics",
    "knn_accuracy": "metrics",
    "linear_probe_accuracy": "metrics",
    "fit_linear_probe": "metrics",
    "negative_weights": "metrics",
    "tolerance": "metrics",
    "uniformity": "metrics",
    "History": "train",
    "fit": "train",
    "embed": "evaluation",
    "evaluate": "evaluation",
    "probe_features": "evaluation",
    "get_device": "utils",
    "seed_everything": "utils",
    "eval_mode": "utils",
}

__all__ = sorted([*_MODULES, *_NAMES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs: the names as if imported eagerly
    from . import (  # noqa: F401
        augment,
        catalog,
        claims,
        data,
        evaluation,
        losses,
        methods,
        metrics,
        models,
        prototypes,
        train,
        utils,
        viz,
    )
    from .augment import AugmentConfig, views  # noqa: F401
    from .evaluation import embed, evaluate, probe_features  # noqa: F401
    from .train import History, fit  # noqa: F401
