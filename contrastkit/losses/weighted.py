"""Losses that weight positives and negatives within a group: CACR's contrastive
attraction and contrastive repulsion.

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_matrix, check_same_shape

__all__ = ["cacr_loss"]


def _check_views(views: Tensor | list[Tensor]) -> Tensor:
    """Stack ``views`` into ``(M, N, D)`` and check it (M >= 2 views of N >= 2 items)."""
    if isinstance(views, (list, tuple)):
        if len(views) < 2:
            raise ValueError(f"views must hold at least 2 views, got {len(views)}")
        for k, v in enumerate(views):
            check_matrix(v, f"views[{k}]", min_rows=2)
            check_same_shape(v, views[0], f"views[{k}]", "views[0]")
        views = torch.stack(list(views))
    if not isinstance(views, Tensor):
        raise TypeError(f"views must be a Tensor (M, N, D) or a list of (N, D), got {type(views)}")
    if views.ndim != 3 or views.shape[0] < 2 or views.shape[1] < 2 or views.shape[2] < 1:
        raise ValueError(
            f"views must be (M, N, D) with M >= 2 views and N >= 2 items, got {tuple(views.shape)}"
        )
    if not views.is_floating_point():
        raise TypeError(f"views must be floating point, got dtype {views.dtype}")
    return views


def _check_sharpness(value: float, name: str) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 0 <= value < float("inf"):  # False for NaN and inf too
        raise ValueError(f"{name} must be a finite number >= 0 (0: uniform weights), got {value!r}")


def cacr_loss(views: Tensor | list[Tensor], tau_pos: float = 1.0, tau_neg: float = 0.9) -> Tensor:
    """CACR: contrastive attraction of the positives plus contrastive repulsion of the negatives.

    Reference: Huangjie Zheng, Xu Chen, Jiangchao Yao, Hongxia Yang, Chunyuan Li, Ya Zhang, Hao
    Zhang, Ivor Tsang, Jingren Zhou, Mingyuan Zhou, "Contrastive Attraction and Contrastive
    Repulsion for Representation Learning", TMLR 2023, https://arxiv.org/abs/2105.03746
    (code: github.com/JegZheng/CACR-SSL, ``our_loss1`` / ``our_loss2``).

    With ``M`` views of ``N`` items on the unit sphere and ``d(a, b) = ||a - b||^2``, for every
    anchor ``x = z_a[i]`` (view a, item i)::

        positives: z_b[i], b != a     pi+_b = softmax_b( tau_pos * d(x, z_b[i]) )
        negatives: z_b[j], b != a, j != i
                                      pi-_bj = softmax_j( -tau_neg * d(x, z_b[j]) )  (per b)
        L_CA = mean_x  sum_b pi+_b d(x, z_b[i])         far positives are pulled hardest
        L_CR = -mean_x mean_b sum_j pi-_bj d(x, z_b[j])  close negatives are pushed hardest
        loss = L_CA + L_CR

    ``tau_pos`` and ``tau_neg`` multiply the distances (they are inverse temperatures, as in
    the paper): 0 gives uniform weights (the code's ``choice="none"`` ablation, an alignment
    plus mean-distance loss), large values put all the weight on the farthest positive and the
    closest negative. The weights are softmaxes (log-sum-exp inside), finite at any value.
    Unlike the reference code, which uses only the view pairs (a < b), every ordered pair
    (a != b) is used, so the loss is symmetric in the views.

    Args:
        views: ``(M, N, D)`` or a list of ``M`` tensors ``(N, D)``; ``M >= 2`` views (the paper
            uses 4) of ``N >= 2`` items, row i of every view the same item. Normalised inside.
        tau_pos: sharpness of the attraction weights, ``>= 0``; 1.0 in the paper.
        tau_neg: sharpness of the repulsion weights, ``>= 0``; 0.9 (CIFAR-10) or 2.0.

    Returns:
        The scalar loss, in ``[-4, 4]`` (negative once negatives are far and positives close).

    Raises:
        ValueError: fewer than 2 views or items, views of different shapes, or a negative or
            non-finite ``tau_pos`` / ``tau_neg``.
        TypeError: non-tensor or integer views.

    Example:
        >>> z = torch.randn(4, 32, 16)   # 4 views of 32 items
        >>> loss = cacr_loss(z, tau_pos=1.0, tau_neg=0.9)
    """
    z = _check_views(views)
    _check_sharpness(tau_pos, "tau_pos")
    _check_sharpness(tau_neg, "tau_neg")
    m, n, _ = z.shape
    zn = F.normalize(z.float(), dim=2)  # float32 keeps bf16 inputs accurate
    # d[a, b, i, j] = ||z_a[i] - z_b[j]||^2 = 2 - 2 cos on the sphere: (M, M, N, N)
    d = (2 - 2 * torch.einsum("aid,bjd->abij", zn, zn)).clamp(min=0)
    other_view = ~torch.eye(m, dtype=torch.bool, device=z.device)  # (M, M): a != b
    # attraction: the positives of (a, i) are d[a, b, i, i] over b != a
    pos = d.diagonal(dim1=2, dim2=3)[other_view].view(m, m - 1, n)  # (M, M-1, N)
    w_pos = torch.softmax(tau_pos * pos, dim=1)  # over the M-1 positives
    attraction = (w_pos * pos).sum(dim=1).mean()
    # repulsion: the negatives of (a, i) in view b are d[a, b, i, j] over j != i
    neg = d[other_view]  # (M(M-1), N, N)
    self_pair = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (-tau_neg * neg).masked_fill(self_pair, float("-inf"))
    w_neg = torch.softmax(logits, dim=2)  # (M(M-1), N, N), 0 on the diagonal
    repulsion = -(w_neg * neg.masked_fill(self_pair, 0.0)).sum(dim=2).mean()
    return (attraction + repulsion).to(z.dtype)
