"""G-SimCLR: SimCLR whose batches hold at most one image per pseudo-class.

Reference: Souradip Chakraborty, Aritra Roy Gosthipaty, Sayak Paul, "G-SimCLR: Self-Supervised
Contrastive Learning with Guided Projection via Pseudo Labelling", ICDM 2020 workshops (DLKT),
https://arxiv.org/abs/2009.12007 (code: https://github.com/ariG23498/G-SimCLR).

In NT-Xent every other image of the batch is a negative, so two images of one class are pushed
apart (a *false negative*). G-SimCLR guesses the classes without labels and keeps them apart:

    e(x)      = latent of a denoising autoencoder, trained first with MSE on x + noise
    pseudo(x) = k-means(e(x)) with K clusters (K = batch size B in the paper)
    batch     = B images, no two with the same pseudo-label (whenever K >= B allows it)
    loss      = NT-Xent(z1, z2; t)          unchanged: only the batch composition is guided

A batch of ``B`` images from ``C`` equally frequent classes cannot avoid false negatives once
``B > C``: the fewest it can hold is a class-balanced batch, a false-negative rate (same-class
pairs among all pairs) of ``(B / C - 1) / (B - 1)``, against about ``1 / C`` for a random batch.
Guided batches can only move the rate between the two, and only as far as the clusters follow
the classes.

Scaled down: the paper's conv DAE on CIFAR-10 becomes an MLP DAE on 8x8 digits; instead of
sorting the whole data set by within-cluster rank (the code's fixed order), every step draws a
random pool of ``pool * B`` images and takes them round-robin over the pseudo-classes (one of
each, then a second of each if fewer than ``B`` pseudo-classes turned up, ...) — the per-batch
stratified sampler, a cleaner variant of the code's fixed order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import MLP
from ..prototypes import kmeans
from .base import Example, Method, images
from .simclr import SimCLR


class DenoisingAutoencoder(nn.Module):
    """MLP denoising autoencoder: ``x + noise -> latent -> x``; the latent gives pseudo-labels.

    Args:
        in_dim: flattened input size (64 for 8x8 digits). latent: code size (16 in the notebook).
        hidden: width of the one hidden layer on each side. noise: std of the Gaussian noise.
    """

    def __init__(self, in_dim: int, latent: int = 16, hidden: int = 128, noise: float = 0.1):
        super().__init__()
        self.noise = noise
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, in_dim)
        )

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch).flatten(1)  # (N, in_dim)
        noisy = x + self.noise * torch.randn_like(x)
        return F.mse_loss(self.decoder(self.encoder(noisy)), x)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)


@torch.no_grad()
def pseudo_labels(latent: Tensor, k: int, seed: int = 0) -> Tensor:
    """k-means pseudo-labels ``(N,)`` of latents ``(N, d)`` (Euclidean k-means, standardised)."""
    z = (latent - latent.mean(0)) / latent.std(0).clamp_min(1e-6)
    return kmeans(z, k, seed=seed, cosine=False)[1]


def one_per_label(labels: Tensor, batch_size: int) -> Tensor:
    """Positions of a batch drawn from a (randomly ordered) pool, round-robin over the labels.

    The first occurrence of every label comes first (in pool order), then every label's second
    occurrence, and so on: the first ``batch_size`` positions of that order are the batch. When
    the pool holds at least ``batch_size`` distinct labels, no two chosen images share one;
    otherwise the labels are as balanced as the pool allows (the paper's code gets the same
    effect by sorting the data set by within-cluster rank). Pure: tests and the notebook call it.

    Args:
        labels: ``(P,)`` non-negative integer pseudo-labels of the pool, in the pool's order.
        batch_size: ``B``, ``1 <= B <= P``.

    Returns:
        ``(B,)`` long positions into the pool.
    """
    p = labels.shape[0]
    if not 1 <= batch_size <= p:
        raise ValueError(f"batch_size must be in [1, pool size {p}], got {batch_size}")
    sorted_labels, by_label = torch.sort(labels, stable=True)  # (P,) grouped, pool order inside
    _, counts = torch.unique_consecutive(sorted_labels, return_counts=True)
    starts = torch.repeat_interleave(counts.cumsum(0) - counts, counts)  # (P,) group start
    rank = torch.empty_like(by_label)
    rank[by_label] = torch.arange(p, device=labels.device) - starts  # occurrence number, 0-based
    pos = torch.arange(p, device=labels.device)
    return torch.argsort(rank * p + pos)[:batch_size]  # by round, then by pool position


def false_negative_rate(y: Tensor) -> float:
    """Share of a batch's negative pairs ``(i != j)`` whose true labels agree."""
    same = y[:, None] == y[None, :]  # (B, B)
    b = y.shape[0]
    return float((same.sum() - b) / (b * (b - 1)))


def batch_fn_rates(
    y: Tensor, pseudo: Tensor, batch_size: int, pool: int, n_batches: int = 200, seed: int = 0
) -> Tensor:
    """False-negative rates ``(n_batches,)`` of batches that the sampler builds from ``pseudo``.

    Pass ``pseudo = torch.arange(N)`` (every image its own pseudo-class) for random batches.
    """
    g = torch.Generator().manual_seed(seed)
    rates = []
    for _ in range(n_batches):
        idx = torch.randperm(len(y), generator=g)[: pool * batch_size]
        rates.append(false_negative_rate(y[idx[one_per_label(pseudo[idx], batch_size)]]))
    return torch.tensor(rates)


class GSimCLR(Method):
    """SimCLR trained on guided batches: at most one image per pseudo-class.

    ``fit`` must be given ``(x, pseudo)`` tensors and ``batch_size = pool * B``: each step the
    random pool is cut down to ``B`` images with distinct pseudo-labels, then SimCLR's own loss
    runs on them. With ``pseudo = arange(N)`` this is plain SimCLR on random batches of ``B``
    (the baseline, same code path and pool draws).

    Args:
        base: the ``SimCLR`` method to guide (encoder, projector, temperature, augmentations);
            an encoder (a module with ``out_dim``) is wrapped in ``SimCLR(base)``.
        batch_size: ``B``, the images that reach the loss per step.

    Example:
        >>> pseudo = pseudo_labels(ck.embed(dae, data.x), k=32)
        >>> g = GSimCLR(SimCLR(MLP(64, (128,), 64), augment="digits"), batch_size=32)
        >>> ck.fit(g, (data.x, pseudo), steps=600, batch_size=4 * 32)
    """

    input_kind = "clustered_images"

    def __init__(self, base: nn.Module, batch_size: int = 32) -> None:
        super().__init__()
        if not isinstance(base, SimCLR) and hasattr(base, "out_dim"):
            base = SimCLR(base)
        if not isinstance(base, SimCLR):
            raise TypeError(
                f"base must be a SimCLR method or an encoder, got {type(base).__name__}"
            )
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2, got {batch_size}")
        self.base = base
        self.batch_size = batch_size

    @property
    def encoder(self) -> nn.Module:
        return self.base.encoder

    def loss(self, batch: tuple) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("GSimCLR needs (x, pseudo_labels) batches: fit(method, (x, pseudo))")
        x, pseudo = batch[0], batch[1]  # (P, ...), (P,) pool in random order
        keep = one_per_label(pseudo, min(self.batch_size, len(pseudo)))  # (B,)
        return self.base.loss(x[keep])

    def embed(self, x: Tensor) -> Tensor:
        return self.base.embed(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
        pseudo = torch.arange(16) % 4  # a pool of 16 with 4 pseudo-classes: batches of 4
        model = cls(SimCLR(MLP(64, (32,), 16), proj_dim=8, augment="digits"), batch_size=4)
        return Example(model, (x, pseudo), x)


METHOD = GSimCLR
