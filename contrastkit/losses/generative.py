"""Generative objectives used beside a contrastive term: the MIM autoencoder loss (cMIM) and
MAE's masked reconstruction (Voltron).

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .core import _check_pair

__all__ = ["masked_reconstruction_loss", "mim_loss"]


def mim_loss(
    x: Tensor, x_rec: Tensor, z: Tensor, mu: Tensor, sigma: Tensor, pixel_std: float = 0.1
) -> Tensor:
    """A-MIM's loss for a Gaussian encoder and decoder, per image, averaged over the batch.

    Reference: Micha Livne, Kevin Swersky, David J. Fleet, "MIM: Mutual Information Machine",
    arXiv 2019, https://arxiv.org/abs/1910.03175 (the base of cMIM).

    ``loss = -1/2 [log p(x|z) + log N(z; 0, I) + log q(z|x)]`` for one draw ``z ~ q(z|x)``, with
    ``p(x|z) = N(x_rec, pixel_std^2 I)`` and ``q(z|x) = N(mu, sigma^2)``. Unlike the ELBO (which
    *subtracts* ``log q``), the ``+log q`` term rewards a peaked posterior: high mutual information
    between ``x`` and ``z``. Not a softmax: no temperature; computed in float32 or wider.

    Args:
        x: ``(N, P)`` inputs (flattened). x_rec: ``(N, P)`` the decoder's means at ``z``.
        z: ``(N, d)`` the draw. mu, sigma: ``(N, d)`` the posterior's mean and std (``> 0``).
        pixel_std: the decoder's fixed std ``> 0`` (0.1 for pixels in [0, 1]).

    Returns:
        The scalar loss in nats per image, in the dtype of ``x``.

    Raises:
        ValueError: mismatched shapes, not 2-D, an empty batch, or ``pixel_std <= 0`` (named).
        TypeError: a non-tensor or integer input.

    Example:
        >>> mu, sigma = torch.zeros(8, 4), torch.ones(8, 4)
        >>> z = mu + sigma * torch.randn(8, 4)
        >>> loss = mim_loss(torch.rand(8, 64), torch.rand(8, 64), z, mu, sigma)
    """
    _check_pair(x, x_rec, "x", "x_rec")
    _check_pair(z, mu, "z", "mu")
    _check_pair(mu, sigma, "mu", "sigma")
    if z.shape[0] != x.shape[0]:
        raise ValueError(f"z and x must have the same rows, got {z.shape[0]} and {x.shape[0]}")
    if not (isinstance(pixel_std, (int, float)) and pixel_std > 0):
        raise ValueError(f"pixel_std must be a number > 0, got {pixel_std!r}")
    dtype = x.dtype
    wide = torch.promote_types(dtype, torch.float32)
    x, x_rec, z, mu, sigma = (t.to(wide) for t in (x, x_rec, z, mu, sigma))
    log2pi = 1.8378770664093453  # log(2 pi)
    log_s = torch.log(torch.tensor(float(pixel_std), dtype=wide))
    log_px = (-0.5 * (((x - x_rec) / pixel_std) ** 2 + log2pi) - log_s).sum(1)  # (N,)
    log_pz = -0.5 * (z**2 + log2pi).sum(1)  # (N,) standard normal prior
    log_qz = (-0.5 * (((z - mu) / sigma) ** 2 + log2pi) - torch.log(sigma)).sum(1)  # (N,)
    return (-0.5 * (log_px + log_pz + log_qz)).mean().to(dtype)


def masked_reconstruction_loss(
    pred: Tensor, target: Tensor, mask: Tensor, norm_pix: bool = False, eps: float = 1e-6
) -> Tensor:
    """MAE's loss: the mean squared error over the *masked* patches only.

    Reference: Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollar, Ross Girshick,
    "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
    https://arxiv.org/abs/2111.06377 (used by Voltron for its reconstruction term).

    ``loss = sum_{i,p} m_ip ||t_ip - pred_ip||^2 / (D sum_{i,p} m_ip)`` where ``t`` is the patch's
    pixels, standardised per patch when ``norm_pix`` (MAE's best setting): ``(t - mean) /
    sqrt(var + eps)``. Not a softmax: no temperature; computed in float32 or wider.

    Args:
        pred, target: ``(N, P, D)`` predicted and true patches. mask: ``(N, P)`` bool, True
            where the patch was hidden from the encoder (only those count).
        norm_pix: standardise each target patch first. eps: added to the variance.

    Raises:
        ValueError: mismatched or non-3-D ``pred``/``target``, a ``mask`` of the wrong shape or
            not bool, or no masked patch at all (named).

    Example:
        >>> mask = torch.rand(8, 16) < 0.75
        >>> loss = masked_reconstruction_loss(torch.rand(8, 16, 48), torch.rand(8, 16, 48), mask)
    """
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("pred and target must be tensors")
    if pred.ndim != 3 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must be (N, P, D) of one shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != pred.shape[:2]:
        raise ValueError(f"mask must be a bool (N, P) = {tuple(pred.shape[:2])} tensor")
    if not bool(mask.any()):
        raise ValueError("mask has no masked patch: nothing to reconstruct")
    dtype = pred.dtype
    wide = torch.promote_types(dtype, torch.float32)
    pred, target = pred.to(wide), target.to(wide)
    if norm_pix:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mean) / (var + eps).sqrt()
    err = ((pred - target) ** 2).mean(-1)  # (N, P)
    m = mask.to(wide)
    return ((err * m).sum() / m.sum()).to(dtype)
