"""Wang & Liu's hardness study: the hard contrastive loss (only each anchor's hardest
negatives) and the simple loss (no hardness awareness, the t -> infinity limit).

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_temperature
from .core import _check_pair, _two_view_logits

__all__ = ["hard_contrastive", "simple_contrastive"]


def _keep_hardest(neg_logits: Tensor, k: int | None, quantile: float | None) -> Tensor:
    """Set all but each row's hardest negatives to ``-inf``.

    ``neg_logits`` is ``(A, M)`` with ``-inf`` where a column is not a negative of that row.
    """
    m = int(torch.isfinite(neg_logits[0]).sum())
    if k is None:
        k = max(1, int(round(quantile * m)))
    k = min(k, m)
    kth = neg_logits.topk(k, dim=1).values[:, -1:]  # (A, 1): the k-th largest per row
    return neg_logits.masked_fill(neg_logits < kth, float("-inf"))


def _check_hard_args(k: int | None, quantile: float | None, n_negatives: int) -> None:
    if (k is None) == (quantile is None):
        raise ValueError("give exactly one of k (number of negatives kept) or quantile")
    if k is not None and not (isinstance(k, int) and 1 <= k):
        raise ValueError(f"k must be an int >= 1 (at most {n_negatives} here), got {k!r}")
    if quantile is not None and not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")


def hard_contrastive(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 1.0,
    k: int | None = None,
    quantile: float | None = None,
) -> Tensor:
    """NT-Xent over each anchor's hardest negatives only (Wang & Liu's hard contrastive loss).

    Reference: Wang, Liu, "Understanding the Behaviour of Contrastive Loss", CVPR 2021,
    https://arxiv.org/abs/2012.09740.

    With ``s_a`` the similarity above which anchor i keeps its negatives (its k-th largest, or
    the upper ``quantile``)::

        l_i = -log( exp(s_ii / t) / (exp(s_ii / t) + sum_{s_ik >= s_a} exp(s_ik / t)) )

    Cutting the easy negatives restores uniformity at a large, tolerant temperature.

    Args:
        z1: ``(N, D)`` first view. z2: ``(N, D)`` second view (positives row by row).
        temperature: ``t > 0``; the paper's hard loss works best at 0.7-1.0.
        k: keep this many hardest negatives per anchor (of the ``2N - 2``), or
        quantile: keep this upper fraction of them (the paper keeps ~8% on CIFAR).

    Returns:
        The scalar mean loss over the 2N anchors.

    Raises:
        ValueError: bad temperature or shapes, or not exactly one of ``k`` / ``quantile``.

    Example:
        >>> z1, z2 = torch.randn(64, 16), torch.randn(64, 16)
        >>> loss = hard_contrastive(z1, z2, temperature=1.0, k=12)
    """
    check_temperature(temperature)
    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    n = z1.shape[0]
    _check_hard_args(k, quantile, 2 * n - 2)
    logits, targets = _two_view_logits(z1, z2, temperature)  # (2N, 2N)
    rows = torch.arange(2 * n, device=logits.device)
    pos = logits[rows, targets].clone()  # (2N,)
    neg = logits.clone()
    neg[rows, targets] = float("-inf")  # negatives only: self and partner masked
    neg = _keep_hardest(neg, k, quantile)
    neg[rows, targets] = pos  # put the positive back where the targets expect it
    return F.cross_entropy(neg, targets)


def simple_contrastive(
    z1: Tensor, z2: Tensor, lam: float = 1.0, k: int | None = None, quantile: float | None = None
) -> Tensor:
    """The "simple" loss, the large-temperature limit of the contrastive loss (no hardness).

    Reference: Wang, Liu, CVPR 2021 (above), their L_simple and HardSimple.

    ``l_i = -s_ii + lam * mean_{j in negatives(i)} s_ij``: every negative is pushed with the
    same force. With ``k`` or ``quantile`` only the hardest negatives are averaged (HardSimple).

    Args:
        z1: ``(N, D)``. z2: ``(N, D)``.
        lam: weight of the negative term (>= 0).
        k, quantile: optional hard-negative selection as in :func:`hard_contrastive`.

    Returns:
        The scalar mean loss over the 2N anchors.

    Example:
        >>> loss = simple_contrastive(torch.randn(32, 8), torch.randn(32, 8), lam=1.0)
    """
    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    n = z1.shape[0]
    sim, targets = _two_view_logits(z1, z2, 1.0)  # (2N, 2N) cosines, -inf on the diagonal
    rows = torch.arange(2 * n, device=sim.device)
    pos = sim[rows, targets]
    neg = sim.clone()
    neg[rows, targets] = float("-inf")
    if k is not None or quantile is not None:
        _check_hard_args(k, quantile, 2 * n - 2)
        neg = _keep_hardest(neg, k, quantile)
    kept = torch.isfinite(neg)
    neg_mean = neg.masked_fill(~kept, 0.0).sum(dim=1) / kept.sum(dim=1)
    return (-pos + lam * neg_mean).mean()
