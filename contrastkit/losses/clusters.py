"""Cluster discrimination: MLCD's multi-label loss over cluster centres.

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_matrix, check_temperature

__all__ = ["mlcd_loss"]


def mlcd_loss(z: Tensor, centres: Tensor, positives: Tensor, temperature: float = 0.1) -> Tensor:
    """Multi-label cluster discrimination: several positive centres per sample, positive and
    negative terms kept apart.

    Reference: Xiang An, Kaicheng Yang, Xiangzi Dai, Ziyong Feng, Jiankang Deng, "Multi-label
    Cluster Discrimination for Visual Representation Learning", ECCV 2024,
    https://arxiv.org/abs/2407.17331.

    With ``s_j = cos(z, c_j) / t`` over the ``K`` centres and ``P`` the positive set::

        loss = mean_i [ log(1 + sum_{j not in P_i} exp(s_ij)) + log(1 + sum_{p in P_i} exp(-s_ip)) ]

    Each log is a ``logsumexp`` with a 0 logit added (``log(1 + sum e^a) = logsumexp([0, a])``),
    so ``t = 0.01`` does not overflow. Unlike a softmax over all centres, positives do not
    compete with each other: each only has to score above 0 while every negative scores below.

    Args:
        z: ``(N, D)`` embeddings. centres: ``(K, D)`` cluster centres (prototypes).
        positives: ``(N, K)`` bool, True for each sample's positive centres (e.g. its k nearest).
        temperature: ``t > 0``.

    Returns:
        The scalar loss, in the dtype of ``z`` (computed in float32 or wider).

    Raises:
        ValueError: bad temperature, shapes that do not match, NaN inputs.
        TypeError: non-tensor inputs or a non-bool ``positives``.

    Example:
        >>> z, centres = torch.randn(8, 16), torch.randn(32, 16)
        >>> pos = torch.zeros(8, 32, dtype=torch.bool); pos[:, :3] = True
        >>> loss = mlcd_loss(z, centres, pos, temperature=0.1)
    """
    check_temperature(temperature)
    check_matrix(z, "z")
    check_matrix(centres, "centres")
    if not isinstance(positives, Tensor) or positives.dtype != torch.bool:
        raise TypeError("positives must be a bool tensor (N, K)")
    if z.shape[1] != centres.shape[1]:
        raise ValueError(f"z and centres must share D, got {z.shape[1]} and {centres.shape[1]}")
    if positives.shape != (z.shape[0], centres.shape[0]):
        raise ValueError(
            f"positives must be (N, K) = {(z.shape[0], centres.shape[0])}, "
            f"got {tuple(positives.shape)}"
        )
    if not (torch.isfinite(z).all() and torch.isfinite(centres).all()):
        raise ValueError("z and centres must be finite (got NaN or inf)")
    dtype = z.dtype
    wide = torch.promote_types(dtype, torch.float32)
    s = F.normalize(z.to(wide), dim=1) @ F.normalize(centres.to(wide), dim=1).T / temperature
    zero = s.new_zeros(s.shape[0], 1)  # the "1 +" inside each log
    neg = torch.logsumexp(torch.cat([zero, s.masked_fill(positives, float("-inf"))], 1), 1)
    pos = torch.logsumexp(torch.cat([zero, (-s).masked_fill(~positives, float("-inf"))], 1), 1)
    return (neg + pos).mean().to(dtype)
