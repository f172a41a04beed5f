"""Redundancy reduction: learning without negatives by shaping the embedding's statistics.

Barlow Twins pushes the cross-correlation matrix of the two views' standardised embeddings to
the identity; VICReg keeps every dimension's spread above a floor (variance), pulls the views
together (invariance) and decorrelates the dimensions (covariance). Neither compares an image
with another image: the batch enters only through per-dimension statistics (means, standard
deviations, correlations over the N rows), which is what keeps the embedding from collapsing.

See :mod:`contrastkit.losses` for the conventions every loss follows. These losses need at
least two rows (a standard deviation over the batch) and compute in at least float32: a
bfloat16 input is upcast, since a standardisation in bfloat16 keeps about three digits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_matrix, check_same_shape

__all__ = [
    "cross_correlation",
    "barlow_twins_terms",
    "barlow_twins_loss",
    "vicreg_terms",
    "vicreg_loss",
]


def _check_views(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """Check two (N, D) views with N >= 2; return them in at least float32."""
    check_matrix(z1, "z1", min_rows=2)
    check_matrix(z2, "z2", min_rows=2)
    check_same_shape(z1, z2, "z1", "z2")
    dtype = torch.promote_types(z1.dtype, torch.float32)
    return z1.to(dtype), z2.to(dtype)


def _check_weight(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number >= 0, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _standardise(z: Tensor, eps: float) -> Tensor:
    # each column to mean 0, variance 1 over the batch: BatchNorm without its affine part
    # (biased variance, as BN computes it in training)
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def cross_correlation(z1: Tensor, z2: Tensor, eps: float = 1e-5) -> Tensor:
    """Barlow Twins' cross-correlation matrix of two views, ``(D, D)``.

    ``C_ij = (1/N) sum_b a_bi c_bj`` where ``a``, ``c`` are ``z1``, ``z2`` standardised along
    the batch (every column to mean 0, variance 1). ``C_ii`` is the correlation of dimension
    ``i`` across the two views, ``C_ij`` (i != j) the correlation of dimension ``i`` of one
    view with dimension ``j`` of the other; all lie in ``[-1, 1]`` (up to ``eps``).

    Args:
        z1, z2: ``(N, D)`` embeddings of two views of the same N inputs, N >= 2.
        eps: added to each variance before the square root (BatchNorm's 1e-5), so a constant
            column gives zeros instead of NaN.

    Raises:
        ValueError / TypeError: shapes that differ, not 2-D, fewer than 2 rows, not floating.

    Example:
        >>> c = cross_correlation(torch.randn(64, 8), torch.randn(64, 8))
        >>> c.shape
        torch.Size([8, 8])
    """
    z1, z2 = _check_views(z1, z2)
    a, c = _standardise(z1, eps), _standardise(z2, eps)  # (N, D) each
    return a.T @ c / z1.shape[0]  # (D, D)


def barlow_twins_terms(z1: Tensor, z2: Tensor, eps: float = 1e-5) -> dict[str, Tensor]:
    """Barlow Twins' two terms, unweighted: ``{"invariance": ..., "redundancy": ...}``.

    ``invariance = sum_i (1 - C_ii)^2`` and ``redundancy = sum_{i != j} C_ij^2`` of the
    :func:`cross_correlation` matrix ``C``; :func:`barlow_twins_loss` is
    ``invariance + lambda_param * redundancy``. Arguments and errors as there.
    """
    c = cross_correlation(z1, z2, eps)  # (D, D)
    diagonal = torch.diagonal(c)
    invariance = (1 - diagonal).pow(2).sum()
    redundancy = c.pow(2).sum() - diagonal.pow(2).sum()
    return {"invariance": invariance, "redundancy": redundancy}


def barlow_twins_loss(
    z1: Tensor, z2: Tensor, lambda_param: float = 5e-3, eps: float = 1e-5
) -> Tensor:
    """Barlow Twins: the cross-correlation of the two views' embeddings, pushed to the identity.

    Reference: Jure Zbontar, Li Jing, Ishan Misra, Yann LeCun, Stéphane Deny, "Barlow Twins:
    Self-Supervised Learning via Redundancy Reduction", ICML 2021,
    https://arxiv.org/abs/2103.03230.

    With ``C`` the ``(D, D)`` :func:`cross_correlation` of the batch-standardised views::

        loss = sum_i (1 - C_ii)^2  +  lambda * sum_{i != j} C_ij^2
               invariance             redundancy reduction

    The first term makes every dimension agree across the two views (``C_ii -> 1``); on its
    own it is solved by making every dimension the *same* feature. The second decorrelates
    the dimensions, so each carries different information. A constant embedding is no
    solution: after standardisation its correlations are 0, the worst invariance.

    Args:
        z1: ``(N, D)`` embeddings of the first views, N >= 2.
        z2: ``(N, D)`` embeddings of the second views; row i pairs with ``z1[i]``.
        lambda_param: the weight of the redundancy term, >= 0; the paper uses 5e-3 (with
            D = 8192). The off-diagonal has D^2 - D entries against D on the diagonal, so the
            balance of the two terms depends on D. 0 switches redundancy reduction off.
        eps: added to each variance before the square root.

    Returns:
        The scalar loss (float32 for float32/bfloat16/float16 inputs, float64 for float64).

    Raises:
        ValueError: shapes that differ, not 2-D, fewer than 2 rows, a negative lambda_param.
        TypeError: a non-floating tensor or a non-numeric lambda_param.

    Example:
        >>> z1, z2 = torch.randn(64, 32), torch.randn(64, 32)
        >>> barlow_twins_loss(z1, z2, lambda_param=1 / 32).shape
        torch.Size([])
    """
    _check_weight(lambda_param, "lambda_param")
    terms = barlow_twins_terms(z1, z2, eps)
    return terms["invariance"] + lambda_param * terms["redundancy"]


def vicreg_terms(
    z1: Tensor, z2: Tensor, gamma: float = 1.0, eps: float = 1e-4
) -> dict[str, Tensor]:
    """VICReg's three terms, unweighted: ``{"invariance", "variance", "covariance"}``.

    * ``invariance = (1/(N D)) sum_b ||z1_b - z2_b||^2`` (the mean squared error);
    * ``variance = 1/2 [v(z1) + v(z2)]`` with ``v(z) = (1/D) sum_j max(0, gamma - S_j)``,
      ``S_j = sqrt(Var_b(z_bj) + eps)`` (unbiased variance over the batch);
    * ``covariance = c(z1) + c(z2)`` with ``c(z) = (1/D) sum_{i != j} Cov(z)_ij^2``,
      ``Cov(z) = (1/(N-1)) (z - mean)^T (z - mean)``.

    :func:`vicreg_loss` weights and adds them. Arguments and errors as there.
    """
    _check_weight(gamma, "gamma")
    z1, z2 = _check_views(z1, z2)
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)

    def variance(z: Tensor) -> Tensor:  # hinge on each column's std: keeps it >= gamma
        return F.relu(gamma - torch.sqrt(z.var(dim=0) + eps)).mean()

    def covariance(z: Tensor) -> Tensor:  # off-diagonal covariances squared, per dimension
        zc = z - z.mean(dim=0)
        cov = zc.T @ zc / (n - 1)  # (D, D)
        return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d

    return {
        "invariance": invariance,
        "variance": 0.5 * (variance(z1) + variance(z2)),
        "covariance": covariance(z1) + covariance(z2),
    }


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    inv_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg: variance, invariance and covariance terms on the two views' embeddings.

    Reference: Adrien Bardes, Jean Ponce, Yann LeCun, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR 2022, https://arxiv.org/abs/2105.04906.

    With the terms of :func:`vicreg_terms`::

        loss = lambda * invariance + mu * variance + nu * covariance

    Invariance pulls the two views of an image together (a plain mean squared error). On its
    own it is solved by a constant embedding; the variance hinge forbids that by keeping the
    standard deviation of every dimension over the batch at least ``gamma``; the covariance
    term decorrelates the dimensions so they do not all carry the same information. Any weight
    set to 0 switches its term off (the paper's ablations).

    Args:
        z1: ``(N, D)`` embeddings of the first views, N >= 2.
        z2: ``(N, D)`` embeddings of the second views; row i pairs with ``z1[i]``.
        inv_weight: ``lambda``, the invariance weight (paper: 25).
        var_weight: ``mu``, the variance weight (paper: 25).
        cov_weight: ``nu``, the covariance weight (paper: 1).
        gamma: the target standard deviation of each dimension (paper: 1).
        eps: added to each variance before the square root (keeps the gradient finite at 0).

    Returns:
        The scalar loss (float32 for float32/bfloat16/float16 inputs, float64 for float64).

    Raises:
        ValueError: shapes that differ, not 2-D, fewer than 2 rows, a negative weight.
        TypeError: a non-floating tensor or a non-numeric weight.

    Example:
        >>> z1, z2 = torch.randn(64, 32), torch.randn(64, 32)
        >>> vicreg_loss(z1, z2, var_weight=0.0).shape  # the ablation without variance
        torch.Size([])
    """
    weights = {"inv_weight": inv_weight, "var_weight": var_weight, "cov_weight": cov_weight}
    for name, value in weights.items():
        _check_weight(value, name)
    terms = vicreg_terms(z1, z2, gamma, eps)
    return (
        inv_weight * terms["invariance"]
        + var_weight * terms["variance"]
        + cov_weight * terms["covariance"]
    )
