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

__all__ = ["MomentumEncoder", "Queue"]


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
