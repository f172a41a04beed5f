"""contrastkit: contrastive representation learning, paper by paper, offline and measured.

    import contrastkit as ck
    data = ck.data.make_shapes(4000, image_size=16)
    model = ck.methods.get("simclr")(ck.models.SmallConvNet())
    ck.fit(model, data.x, steps=300)
    ck.metrics.knn_accuracy(...)

Public names are re-exported here; the modules hold the implementations.
"""

from __future__ import annotations

from . import (
    augment,
    catalog,
    claims,
    data,
    generators,
    losses,
    methods,
    metrics,
    models,
    prototypes,
    train,
    viz,
)
from .augment import AugmentConfig, views
from .data import ImageData, load_digits, make_shapes
from .losses import (
    align_uniform_loss,
    clip_loss,
    hard_contrastive,
    info_nce,
    negative_cosine,
    nt_xent,
    simple_contrastive,
    supcon,
)
from .metrics import (
    alignment,
    effective_negatives,
    effective_rank,
    knn_accuracy,
    linear_probe_accuracy,
    negative_weights,
    tolerance,
    uniformity,
)
from .train import History, embed, evaluate, fit
from .utils import get_device, seed_everything

__version__ = "0.1.0"

__all__ = [
    "AugmentConfig",
    "History",
    "ImageData",
    "align_uniform_loss",
    "alignment",
    "augment",
    "catalog",
    "claims",
    "clip_loss",
    "data",
    "effective_negatives",
    "effective_rank",
    "embed",
    "evaluate",
    "fit",
    "generators",
    "get_device",
    "hard_contrastive",
    "info_nce",
    "knn_accuracy",
    "linear_probe_accuracy",
    "load_digits",
    "losses",
    "make_shapes",
    "methods",
    "metrics",
    "prototypes",
    "models",
    "negative_cosine",
    "negative_weights",
    "nt_xent",
    "seed_everything",
    "simple_contrastive",
    "supcon",
    "tolerance",
    "train",
    "uniformity",
    "views",
    "viz",
]
