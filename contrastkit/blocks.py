"""Building blocks several methods share, written once: a momentum (EMA) copy of a network and
a FIFO queue of embeddings.

* ``MomentumEncoder`` — MoCo's key encoder, BYOL's target network, ALBEF's momentum model:
  ``theta_k <- m * theta_k + (1 - m) * theta_q`` after every step, never trained by gradients.
* ``Queue`` — MoCo's dictionary of negatives (and any memory bank): the newest keys replace
  the oldest, so negatives come from past batches at no extra encoder cost.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MomentumEncoder",
    "Queue",
    "patchify",
    "random_masking",
    "sincos_positions",
    "unpatchify",
]


class MomentumEncoder(nn.Module):
    """An exponential-moving-average copy of ``online`` that gradients never touch.

    Args:
        online: the network to track (its weights are copied at construction).
        momentum: ``m`` in ``theta <- m * theta + (1 - m) * theta_online``; 0.99-0.999 typical.
            ``m = 0`` makes it an exact, gradient-free copy (the SimSiam-style ablation).
    """

    def __init__(self, online: nn.Module, momentum: float = 0.99) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        self.momentum = momentum
        self.target = copy.deepcopy(online)
        for p in self.target.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, online: nn.Module) -> None:
        """One EMA step towards ``online`` (buffers such as BN statistics are copied)."""
        for t, o in zip(self.target.parameters(), online.parameters()):
            t.lerp_(o.detach(), 1.0 - self.momentum)
        for t, o in zip(self.target.buffers(), online.buffers()):
            t.copy_(o)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.target(x)


class Queue(nn.Module):
    """A fixed-size FIFO of L2-normalised embeddings, stored as a buffer (saved in checkpoints).

    Args:
        size: number of entries K. dim: embedding dimension D.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"size and dim must be >= 1, got size={size}, dim={dim}")
        self.register_buffer("items", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.items.shape[0]

    def get(self) -> Tensor:
        """The entries written so far, ``(min(filled, K), D)`` (random unit vectors never leak)."""
        return self.items[: int(self.filled)].clone()

    @torch.no_grad()
    def push(self, keys: Tensor) -> None:
        """Insert ``keys (B, D)`` (normalised here), overwriting the oldest entries."""
        if keys.ndim != 2 or keys.shape[1] != self.items.shape[1]:
            raise ValueError(f"keys must be (B, {self.items.shape[1]}), got {tuple(keys.shape)}")
        keys = F.normalize(keys.detach().to(self.items.dtype), dim=1)[-self.size :]
        idx = (self.ptr + torch.arange(len(keys), device=keys.device)) % self.size
        self.items[idx] = keys
        self.ptr.copy_((self.ptr + len(keys)) % self.size)
        self.filled.copy_(torch.clamp(self.filled + len(keys), max=self.size))


# ---------------------------------------------------------------------------------------------
# Masking (MAE and its descendants): images <-> patch tokens, and a random keep/mask split
# ---------------------------------------------------------------------------------------------


def patchify(x: Tensor, patch: int) -> Tensor:
    """``(N, C, H, W)`` images -> ``(N, (H/p)(W/p), C p p)`` patches, row-major (MAE's order).

    Raises:
        ValueError: ``x`` not 4-D, or ``H``/``W`` not divisible by ``patch`` (named).
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if patch < 1 or h % patch or w % patch:
        raise ValueError(f"patch must divide the image size {h}x{w}, got patch={patch}")
    x = x.reshape(n, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(n, (h // patch) * (w // patch), c * patch * patch)


def unpatchify(p: Tensor, patch: int, channels: int = 3) -> Tensor:
    """The inverse of :func:`patchify` for square images: ``(N, P, C p p)`` -> ``(N, C, H, W)``."""
    n, count, dim = p.shape
    side = int(round(count**0.5))
    if side * side != count or dim != channels * patch * patch:
        raise ValueError(f"p must be (N, side^2, {channels}*{patch}^2), got shape {tuple(p.shape)}")
    p = p.reshape(n, side, side, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return p.reshape(n, channels, side * patch, side * patch)


def random_masking(
    n: int,
    tokens: int,
    ratio: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """MAE's per-sample random masking: keep ``round(tokens * (1 - ratio))`` tokens per row.

    Args:
        n: rows. tokens: tokens per row. ratio: the masked fraction in ``[0, 1)`` (0.75 in MAE).
        generator: optional, for a reproducible mask (drawn on the CPU, then moved).

    Returns:
        ``keep`` ``(n, K)`` int64, the kept tokens' indices in increasing order (gather the
        visible tokens with it), and ``mask`` ``(n, tokens)`` bool, True where a token is hidden.

    Raises:
        ValueError: ``ratio`` outside ``[0, 1)`` or fewer than 1 token (named).
    """
    if not 0 <= ratio < 1:
        raise ValueError(f"ratio must be in [0, 1), got {ratio!r}")
    if tokens < 1 or n < 1:
        raise ValueError(f"n and tokens must be >= 1, got n={n}, tokens={tokens}")
    k = max(1, round(tokens * (1 - ratio)))
    noise = torch.rand(n, tokens, generator=generator)
    keep = noise.argsort(dim=1)[:, :k].sort(dim=1).values  # (n, K)
    mask = torch.ones(n, tokens, dtype=torch.bool)
    mask[torch.arange(n)[:, None], keep] = False
    return keep.to(device), mask.to(device)


def sincos_positions(side: int, dim: int) -> Tensor:
    """Fixed 2-D sine-cosine position codes for a ``side x side`` grid of patches (MAE's choice).

    Half of the ``dim`` channels encode the patch's row, half its column; each half is
    ``[sin(pos * w_k), cos(pos * w_k)]`` over ``dim / 4`` frequencies
    ``w_k = 10000^(-k / (dim/4))``.
    Fixed codes give every token its place from the first step (no position has to be learnt
    from masked data) and let a decoder address a hidden patch it never saw.

    Returns:
        ``(side * side, dim)`` float32, rows in :func:`patchify`'s (row-major) order.

    Raises:
        ValueError: ``side < 1`` or ``dim`` not a positive multiple of 4 (named).
    """
    if side < 1:
        raise ValueError(f"side must be >= 1, got {side}")
    if dim < 4 or dim % 4:
        raise ValueError(f"dim must be a positive multiple of 4, got {dim}")
    quarter = dim // 4
    freq = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (dim/4,)
    pos = torch.arange(side, dtype=torch.float64)
    angles = pos[:, None] * freq[None]  # (side, dim/4)
    code = torch.cat([angles.sin(), angles.cos()], dim=1)  # (side, dim/2) for one axis
    rows = code[:, None, :].expand(side, side, dim // 2)  # the row's code, for every column
    cols = code[None, :, :].expand(side, side, dim // 2)
    return torch.cat([rows, cols], dim=2).reshape(side * side, dim).float()
