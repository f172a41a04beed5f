"""CACR: pull the far positives hardest, push the close negatives hardest, each within its group.

Reference: Huangjie Zheng, Xu Chen, Jiangchao Yao, Hongxia Yang, Chunyuan Li, Ya Zhang, Hao
Zhang, Ivor Tsang, Jingren Zhou, Mingyuan Zhou, "Contrastive Attraction and Contrastive
Repulsion for Representation Learning", TMLR 2023, https://arxiv.org/abs/2105.03746
(code: https://github.com/JegZheng/CACR-SSL).

    v_1..v_M = aug(x)                     M views of every image (the paper: M = 4)
    z = g(f(v))                           encoder + projector, on the unit sphere
    d(a, b) = ||a - b||^2
    L_CA = E_x sum_k  pi+_k d(z_x, z_k),  pi+ = softmax_k(+tau_pos d(z_x, z_k))  over positives
    L_CR = -E_x sum_j pi-_j d(z_x, z_j),  pi- = softmax_j(-tau_neg d(z_x, z_j))  over negatives
    loss = L_CA + L_CR                    (``losses.cacr_loss``)

InfoNCE weighs its negatives by a softmax too, but the positive sits inside the same softmax,
so the two groups compete. CACR compares positives only with positives and negatives only with
negatives: the weights are conditional distributions given the query, which the paper argues
corrects for the mismatch between how negatives are sampled (uniformly, whatever the class
balance) and how they should be weighted, so it should help most on uncurated, long-tailed data.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50, 16 px shapes with a long-tailed class
distribution (``long_tailed``) instead of CIFAR-10-LT, a few hundred Adam steps instead of 200
epochs of SGD. To keep the compute budget equal to 2-view SimCLR, CACR's batch holds half as
many images (each seen 4 times).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import cacr_loss
from .base import TwoViewMethod, images


class CACR(TwoViewMethod):
    """Encoder + projector trained with contrastive attraction and repulsion over M views.

    The two-view family's wiring (encoder, projector, ``embed``) with ``M >= 2`` views per image
    instead of two: every view is a positive of the others, every other image a negative.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head.
        n_views: views per image, ``>= 2`` (4 in the paper; with 2 the attraction weights are
            trivially 1 and only the repulsion is "contrastive").
        tau_pos: sharpness of the attraction weights (1.0 in the paper; 0 = uniform).
        tau_neg: sharpness of the repulsion weights (0.9 on CIFAR-10, 2.0 on CIFAR-100/STL).
        augment: an ``AugmentConfig`` or preset name for the views.

    Example:
        >>> model = CACR(SmallConvNet(), n_views=4, tau_pos=1.0, tau_neg=2.0)
        >>> hist = fit(model, shapes.x, steps=300, batch_size=128)
    """

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        n_views: int = 4,
        tau_pos: float = 1.0,
        tau_neg: float = 0.9,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        if not isinstance(n_views, int) or n_views < 2:
            raise ValueError(f"n_views must be an int >= 2, got {n_views!r}")
        super().__init__(encoder, proj_dim, augment)
        self.n_views = n_views
        self.tau_pos = tau_pos
        self.tau_neg = tau_neg

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        vs = views(x, self.n_views, self.augment)
        z = self.projector(self.encoder(torch.cat(vs)))  # (M N, proj_dim), one pass
        return cacr_loss(z.view(self.n_views, x.shape[0], -1), self.tau_pos, self.tau_neg)

    def pair_loss(self, z1: Tensor, z2: Tensor) -> Tensor:
        """CACR on two projected views ``(N, D)`` (``M = 2``: the attraction weights are 1)."""
        return cacr_loss(torch.stack([z1, z2]), self.tau_pos, self.tau_neg)


# ---------------------------------------------------------------------------------------------
# The two conditional distributions, for the notebook's figures and sliders; a long-tailed split
# ---------------------------------------------------------------------------------------------


def attraction_weights(anchor: Tensor, positives: Tensor, tau_pos: float) -> Tensor:
    """``pi+``: how hard the anchor ``(D,)`` pulls each of its positives ``(K, D)``; sums to 1.

    ``softmax_k(tau_pos * ||a - p_k||^2)`` on the sphere: the farthest positive gets the most.
    """
    a, p = F.normalize(anchor.float(), dim=-1), F.normalize(positives.float(), dim=-1)
    return torch.softmax(tau_pos * (a - p).pow(2).sum(dim=-1), dim=0)


def repulsion_weights(anchor: Tensor, negatives: Tensor, tau_neg: float) -> Tensor:
    """``pi-``: how hard the anchor ``(D,)`` pushes each of its negatives ``(K, D)``; sums to 1.

    ``softmax_j(-tau_neg * ||a - n_j||^2)`` on the sphere: the closest negative gets the most.
    """
    a, n = F.normalize(anchor.float(), dim=-1), F.normalize(negatives.float(), dim=-1)
    return torch.softmax(-tau_neg * (a - n).pow(2).sum(dim=-1), dim=0)


def entropy(weights: Tensor) -> float:
    """Shannon entropy (nats) of a distribution; ``log K`` for uniform weights over K."""
    w = weights.clamp(min=1e-30)
    return float(-(w * w.log()).sum())


def long_tailed(labels: Tensor, imbalance: float, seed: int = 0) -> Tensor:
    """Indices of a long-tailed subset: class ``c`` (by rank) keeps ``n_max * imbalance^(-r)``.

    The largest class keeps all its ``n_max`` samples (``n_max`` = the smallest class count, so
    every class can supply its quota); the ``c``-th of ``C`` classes keeps
    ``n_max / imbalance^(c / (C - 1))`` (at least 1): the exponential profile of CIFAR-10-LT.

    Args:
        labels: ``(N,)`` integer labels (classes ``0..C-1``).
        imbalance: ratio of the largest to the smallest class, ``>= 1`` (1 = balanced).
        seed: which samples are kept.

    Returns:
        ``(M,)`` sorted indices into ``labels``.
    """
    if imbalance < 1:
        raise ValueError(f"imbalance must be >= 1 (largest / smallest class), got {imbalance!r}")
    labels = labels.cpu()
    classes = labels.unique()
    if len(classes) < 2:
        raise ValueError("labels must hold at least 2 classes")
    n_max = int(torch.bincount(labels)[classes].min())
    g = torch.Generator().manual_seed(seed)
    keep = []
    for rank, c in enumerate(classes.tolist()):
        quota = max(1, round(n_max * imbalance ** (-rank / (len(classes) - 1))))
        members = (labels == c).nonzero().flatten()
        keep.append(members[torch.randperm(len(members), generator=g)[:quota]])
    return torch.cat(keep).sort().values


METHOD = CACR
