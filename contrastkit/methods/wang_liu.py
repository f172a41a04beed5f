"""Wang & Liu: the contrastive loss is hardness-aware, and its temperature trades uniformity for
tolerance.

Reference: Feng Wang, Huaping Liu, "Understanding the Behaviour of Contrastive Loss", CVPR 2021,
https://arxiv.org/abs/2012.09740.

With ``s_ij`` the cosine of anchor i and candidate j, ``s_ii`` its positive, ``t`` the
temperature::

    L(i)         = -log( exp(s_ii/t) / (exp(s_ii/t) + sum_{k != i} exp(s_ik/t)) )
    dL/ds_ij     = P_ij / t,  P_ij = exp(s_ij/t) / (exp(s_ii/t) + sum_k exp(s_ik/t))
    r_i(s_ij)    = exp(s_ij/t) / sum_{k != i} exp(s_ik/t)     (share of the push on negative j)

``r_i`` is a Boltzmann distribution over the negatives: small ``t`` puts all the push on the
nearest negatives (t -> 0: a margin-0 triplet loss on the hardest one), large ``t`` spreads it
evenly (t -> inf: the "simple" loss ``-s_ii + lam * mean_j s_ij``). Small ``t`` gives uniform
embeddings but pushes apart semantically similar samples (low tolerance); large ``t`` is
tolerant but less uniform. The *hard contrastive loss* keeps only each anchor's hardest
negatives (those above its upper-``alpha`` quantile), which restores uniformity at a large,
tolerant ``t``::

    L_hard(i)    = -log( exp(s_ii/t) / (exp(s_ii/t) + sum_{s_ik >= s_alpha(i)} exp(s_ik/t)) )
    L_simple(i)  = -s_ii + lam * mean_{k != i} s_ik           (HardSimple: mean over the hardest)

Measured with uniformity ``-L_unif = -log E exp(-2 ||f(x) - f(y)||^2)`` (higher = more uniform)
and tolerance, the mean cosine of same-class pairs (higher = classes kept together).

Scaled down: scikit-learn's 8x8 digits, standardised per pixel,
1,400 train / 397 test; an MLP 64-256-256-32 ending in ``BatchNorm1d(affine=False)`` instead of
a ResNet-18 (without that BatchNorm the hard losses stay collapsed at this scale); in-batch
SimCLR negatives (batch 256, 510 negatives) instead of an NPID memory bank; Adam 1e-3 for
20 epochs instead of SGD for 200; the hard losses keep the top 51 of 510 negatives (10%; the
paper keeps 4,095 of ~50,000, about 8%); the simple loss averages its negatives (the paper sums
them with a small lam, which is the same up to the scale of lam).

What held at this scale (the notebook's section 8): uniformity falls and tolerance rises with
t from 0.1 to 1; the simple loss is much worse; the hard loss at t = 1 is as uniform as the
ordinary loss at t = 0.1. The paper's reverse U in accuracy is not robust inside its range
(0.07-1): accuracy is flat up to 0.1 and then falls; a left branch appears only below it
(t = 0.02), where the loss nears its triplet limit and uniformity drops too.

What the ``wang_liu`` notebook trains and compares (the standardised digits, the temperature
sweep, the paper's Table 1 and its trends) and its temperature explorer live in
:mod:`contrastkit.explore.wang_liu`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import hard_contrastive, nt_xent, simple_contrastive
from ..models import MLP
from ..utils import check_temperature
from .base import Example, Method, images

__all__ = ["LOSSES", "WangLiu", "digits_mlp"]

#: The four objectives of the paper: ordinary, simple (t -> inf), hard, and hard simple.
LOSSES = ("contrastive", "simple", "hard", "hard_simple")


class WangLiu(Method):
    """An encoder trained with one of Wang & Liu's four losses on two views per image.

    There is no projection head: like the paper, the embedding that is measured (uniformity,
    tolerance, probes) is the one the loss sees.

    Args:
        encoder: maps images to ``(N, D)`` embeddings, e.g. ``MLP(64, (256, 256), 32,
            out_bn=True)``.
        loss: ``"contrastive"`` (NT-Xent), ``"simple"``, ``"hard"`` or ``"hard_simple"``.
        temperature: ``t > 0`` for the contrastive and hard losses (ignored by the simple ones).
        k: the hard losses keep each anchor's ``k`` hardest negatives, or
        quantile: that upper fraction of them (default 0.1 when neither is given).
        lam: weight of the negative term of the simple losses.
        augment: an ``AugmentConfig`` or preset name; ``"digits"`` for standardised digits.

    Raises:
        ValueError: an unknown loss, a bad temperature, or both ``k`` and ``quantile``.

    Example:
        >>> enc = MLP(64, (256, 256), 32, out_bn=True)
        >>> method = WangLiu(enc, loss="hard", temperature=1.0, k=51)
        >>> fit(method, train, epochs=20)
    """

    def __init__(
        self,
        encoder: nn.Module,
        loss: str = "contrastive",
        temperature: float = 0.5,
        k: int | None = None,
        quantile: float | None = None,
        lam: float = 1.0,
        augment: AugmentConfig | str = "digits",
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        check_temperature(temperature)
        if k is not None and quantile is not None:
            raise ValueError("give at most one of k and quantile")
        if loss.startswith("hard") and k is None and quantile is None:
            quantile = 0.1
        self.encoder = encoder
        self.loss_name = loss
        self.temperature = float(temperature)
        self.k, self.quantile, self.lam = k, quantile, lam
        self.augment = augment

    def objective(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The chosen loss of two ``(N, D)`` batches of paired embeddings."""
        hard = {"k": self.k, "quantile": self.quantile}
        if self.loss_name == "contrastive":
            return nt_xent(z1, z2, self.temperature)
        if self.loss_name == "hard":
            return hard_contrastive(z1, z2, self.temperature, **hard)
        if self.loss_name == "simple":
            return simple_contrastive(z1, z2, self.lam)
        return simple_contrastive(z1, z2, self.lam, **hard)

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        v1, v2 = views(x, 2, self.augment)
        z1, z2 = self.encoder(torch.cat([v1, v2])).chunk(2)  # one pass: shared BN statistics
        return self.objective(z1, z2)

    def embed(self, x: Tensor) -> Tensor:
        """The embedding the loss sees (there is no projection head)."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(seed))  # digits-like
        return Example(cls(digits_mlp(8, hidden=(32,)), loss="hard", k=4), x, x)


def digits_mlp(out_dim: int = 32, hidden: Sequence[int] = (256, 256)) -> nn.Module:
    """The toy encoder: MLP 64-256-256-out_dim ending in ``BatchNorm1d(affine=False)``."""
    return MLP(64, hidden, out_dim, out_bn=True)


METHOD = WangLiu
