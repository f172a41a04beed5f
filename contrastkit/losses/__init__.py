"""Contrastive objectives as pure functions: tensors in, scalar loss out.

Every softmax-style loss here is computed as ``cross_entropy`` on ``similarity / temperature``
(a log-sum-exp), never as ``exp(s / t) / sum(exp(...))``: the naive form overflows to NaN at
``temperature=0.01``. Embeddings need not be normalised by the caller: each loss projects them
onto the unit sphere first, so similarities are cosines in ``[-1, 1]``.

Conventions: ``N`` is the batch size, ``D`` the embedding dimension. Shapes are in comments.

The losses live in one module per family: ``core`` (the InfoNCE family), ``hardness``,
``weighted``, ``multimodal``, ``clusters`` and ``generative``; every public name is re-exported
here, so ``contrastkit.losses.<name>`` is the one way to call them.
"""

from __future__ import annotations

from .clusters import (
    centred_distillation,
    centroid_nce,
    mlcd_loss,
    pixel_prototype_nce,
    slot_contrast_loss,
    swav_loss,
    swav_multicrop_loss,
)
from .core import (
    align_uniform_loss,
    class_pair_nce,
    clip_loss,
    info_nce,
    negative_cosine,
    nt_xent,
    supcon,
)
from .generative import masked_reconstruction_loss, mim_loss
from .hardness import hard_contrastive, simple_contrastive
from .multimodal import (
    cmcl_loss,
    global_contrast,
    gram_loss,
    gram_volume,
    intra_inter_nce,
    itc_distill_loss,
    local_global_nce,
    similarity_distillation,
    symile_loss,
)
from .redundancy import (
    barlow_twins_loss,
    barlow_twins_terms,
    cross_correlation,
    vicreg_loss,
    vicreg_terms,
)
from .weighted import cacr_loss

__all__ = [
    "nt_xent",
    "info_nce",
    "supcon",
    "class_pair_nce",
    "clip_loss",
    "hard_contrastive",
    "simple_contrastive",
    "align_uniform_loss",
    "negative_cosine",
    "cacr_loss",
    "symile_loss",
    "gram_volume",
    "gram_loss",
    "intra_inter_nce",
    "similarity_distillation",
    "mim_loss",
    "masked_reconstruction_loss",
    "global_contrast",
    "mlcd_loss",
    "swav_loss",
    "swav_multicrop_loss",
    "centroid_nce",
    "centred_distillation",
    "slot_contrast_loss",
    "pixel_prototype_nce",
    "itc_distill_loss",
    "cmcl_loss",
    "local_global_nce",
    "barlow_twins_loss",
    "barlow_twins_terms",
    "cross_correlation",
    "vicreg_loss",
    "vicreg_terms",
]
