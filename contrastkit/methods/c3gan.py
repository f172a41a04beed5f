"""C3-GAN: an InfoGAN whose discriminator clusters real images around embedded latent codes.

Reference: Yunji Kim, Jung-Woo Ha, "Contrastive Fine-grained Class Clustering via Generative
Adversarial Networks", ICLR 2022, https://arxiv.org/abs/2112.14971
(code: https://github.com/naver-ai/c3-gan).

A generator ``G(z, c)`` draws an image from noise ``z`` and a categorical code ``c`` (one of
``K``, uniform). The discriminator ``D`` has a shared trunk, an adversarial head and an
information head ``h(x)`` (an embedding). The one-hot codes are embedded into the same space,
``l_k = L(onehot_k)``, and act as cluster centroids; a real image belongs to the cluster of
its nearest centroid. With ``p(k|x) = softmax_k(cos(h(x), l_k) / t)``:

    L_adv   hinge:  D: E relu(1 - D(x)) + E relu(1 + D(G(z, c)))      G: -E D(G(z, c))
    L_info  = CE(p(. | G(z, c)), c)           code c and its image are the positive pair, the
                                              other codes' centroids the negatives (D and G)
    L_real  = NT-Xent(h(x), h(aug(x)); t)     real images: two views agree           (D only)
    L_ent   = a * mean_x H(p(. | x)) - a * H(mean_x p(. | x))   confident per image, balanced
                                                                over the batch         (D only)

    D: L_adv + w_info L_info + w_real L_real + L_ent        G: L_adv + w_info L_info

InfoGAN (the baseline, ``variant="infogan"``) replaces the centroids by a classifier head
``Q(x)`` trained with ``CE(Q(G(z, c)), c)`` and has neither ``L_real`` nor ``L_ent``; a real
image's cluster is ``argmax Q(x)``.

Training here is *simultaneous*: one optimiser step lowers the discriminator's and the
generator's losses together, so that the method fits ``ck.fit``'s ``loss(batch)`` contract.
The generator's adversarial term is computed through a copy of ``D`` with detached weights
(``torch.func.functional_call``), so it cannot move ``D``; the discriminator's terms see a
detached fake. ``L_info`` is cooperative (both players lower it) and flows to both.

Scaled down: scikit-learn's 8x8 digits (10 codes, coarse classes: nothing is fine-grained at
8 px) and MLP players (16-d noise + code -> 128 -> 256 -> 64 px; 64 -> 256 -> 256 trunk)
instead of the paper's background/foreground/mask generator on 128-px birds, cars and dogs; no
affine perturbation of the foreground, no FID; Adam with one learning rate for both players;
a few hundred to a few thousand steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..augment import AugmentConfig, views
from ..losses import centroid_nce, nt_xent
from .base import Example, Method, images


def cluster_entropies(logits: Tensor) -> tuple[Tensor, Tensor]:
    """C3-GAN's two entropy regularisers from ``(N, K)`` cluster logits.

    Returns ``(conditional, marginal)``: the mean entropy of each sample's ``p(k|x)`` (low:
    every image is confidently in one cluster) and the entropy of the batch's mean assignment
    (high, at most ``log K``: the clusters are balanced, no mode collapse). Pure: the tests and
    the notebook's slider call it.
    """
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(
            f"logits must be (N, K) with K >= 2, got {getattr(logits, 'shape', logits)}"
        )
    logp = F.log_softmax(logits.float(), dim=1)
    p = logp.exp()
    conditional = -(p * logp).sum(1).mean()
    mean = p.mean(0)
    marginal = -(mean * mean.clamp_min(1e-12).log()).sum()
    return conditional, marginal


def assignment_entropy(labels: Tensor, k: int) -> float:
    """Entropy (nats) of the histogram of hard cluster ids ``(N,)`` over ``k`` clusters:
    ``log k`` when all are used equally, 0 when every image falls in one (mode collapse)."""
    p = torch.bincount(labels.flatten().long().cpu(), minlength=k).double()
    p = p / p.sum()
    return float(-(p[p > 0] * p[p > 0].log()).sum())


def soft_assignments(h: Tensor, centroids: Tensor, temperature: float) -> Tensor:
    """``p(k|x) = softmax_k(cos(h, l_k) / t)``: ``(N, D)``, ``(K, D)`` -> ``(N, K)``. Pure."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return F.softmax(F.normalize(h, dim=1) @ F.normalize(centroids, dim=1).T / temperature, 1)


class Generator(nn.Module):
    """``G(z, c)``: noise ``(N, z_dim)`` and codes ``(N,)`` -> images in ``[0, 1]``."""

    def __init__(self, z_dim: int, n_codes: int, shape: tuple[int, ...], hidden=(128, 256)) -> None:
        super().__init__()
        self.z_dim, self.n_codes, self.shape = z_dim, n_codes, tuple(shape)
        layers: list[nn.Module] = []
        d = z_dim + n_codes
        for w in hidden:
            layers += [nn.Linear(d, w), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
            d = w
        layers += [nn.Linear(d, math.prod(shape)), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        x = self.net(torch.cat([z, F.one_hot(c, self.n_codes).to(z)], 1))
        return x.view(-1, *self.shape)


class Discriminator(nn.Module):
    """Trunk -> (adversarial score ``(N,)``, information output ``(N, out_dim)``).

    For C3-GAN the information output is the embedding ``h(x)``; for InfoGAN it is ``Q(x)``'s
    ``K`` logits.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden=(256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_dim
        for w in hidden:
            layers += [nn.Linear(d, w), nn.LeakyReLU(0.2, inplace=True)]
            d = w
        self.trunk = nn.Sequential(*layers)
        self.adversarial = nn.Linear(d, 1)
        self.info = nn.Linear(d, out_dim)
        self.out_dim = d

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.trunk(x)
        return self.adversarial(f).squeeze(1), self.info(f)

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x)


class C3GAN(Method):
    """C3-GAN (``variant="c3gan"``) or its InfoGAN baseline (``variant="infogan"``).

    Batches are images ``(N, C, H, W)`` in ``[0, 1]`` (a Tensor or the first element of a
    tuple). ``loss`` also returns the parts of the objective (``d_adv``, ``g_adv``, ``info``, and
    for C3-GAN ``real``, ``cond_entropy``, ``marg_entropy``), which ``fit`` logs.

    Args:
        shape: image shape ``(C, H, W)``, e.g. ``(1, 8, 8)`` for digits.
        n_codes: ``K``, the number of categorical codes = clusters.
        z_dim: noise size. dim: size of the information embedding (C3-GAN).
        temperature: ``t`` of ``p(k|x)`` and of the real-image NT-Xent (0.1 in the paper).
        info_weight: ``w_info`` (5 in the paper's code).
        real_weight: ``w_real``, the NT-Xent on real views (1).
        entropy_weight: ``a`` of both entropy terms (0.1).
        variant: ``"c3gan"`` or ``"infogan"``.
        augment: the real views for ``L_real`` (a preset name or an ``AugmentConfig``).

    Example:
        >>> model = C3GAN((1, 8, 8), n_codes=10)
        >>> hist = ck.fit(model, digits.x, steps=600, batch_size=64, lr=1e-3)
        >>> clusters = model.cluster(digits.x)
    """

    input_kind = "gan_images"

    def __init__(
        self,
        shape: tuple[int, ...] = (1, 8, 8),
        n_codes: int = 10,
        z_dim: int = 16,
        dim: int = 32,
        temperature: float = 0.1,
        info_weight: float = 5.0,
        real_weight: float = 1.0,
        entropy_weight: float = 0.1,
        variant: str = "c3gan",
        augment: AugmentConfig | str = "digits",
    ) -> None:
        super().__init__()
        if variant not in ("c3gan", "infogan"):
            raise ValueError(f"variant must be 'c3gan' or 'infogan', got {variant!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if isinstance(n_codes, bool) or not isinstance(n_codes, int) or n_codes < 2:
            raise ValueError(f"n_codes must be an int >= 2, got {n_codes!r}")
        self.variant, self.n_codes, self.z_dim = variant, n_codes, z_dim
        self.temperature, self.info_weight = temperature, info_weight
        self.real_weight, self.entropy_weight = real_weight, entropy_weight
        self.augment = augment
        self.generator = Generator(z_dim, n_codes, shape)
        out = dim if variant == "c3gan" else n_codes
        self.discriminator = Discriminator(math.prod(shape), out)
        # C3-GAN's code embedding L: one-hot code -> centroid in h's space (its weight's columns)
        self.code_embedding = nn.Linear(n_codes, dim, bias=False) if variant == "c3gan" else None

    # ----------------------------------------------------------------------------- pieces
    def centroids(self) -> Tensor:
        """The ``(K, dim)`` centroids ``l_k = L(onehot_k)`` (C3-GAN only)."""
        if self.code_embedding is None:
            raise ValueError("centroids exist only for variant='c3gan'")
        return self.code_embedding.weight.T

    def cluster_logits(self, info: Tensor) -> Tensor:
        """Information outputs -> ``(N, K)`` cluster logits (cosines / t, or Q's logits)."""
        if self.variant == "infogan":
            return info
        return F.normalize(info, dim=1) @ F.normalize(self.centroids(), dim=1).T / self.temperature

    def info_loss(self, info: Tensor, codes: Tensor) -> Tensor:
        if self.variant == "infogan":
            return F.cross_entropy(info, codes)
        return centroid_nce(info, self.centroids(), codes, self.temperature)

    def sample(self, n: int, codes: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``n`` generated images and their codes (uniform, or the given ``(n,)`` codes)."""
        device = self.generator.net[0].weight.device
        z = torch.randn(n, self.z_dim, device=device)
        c = torch.randint(0, self.n_codes, (n,), device=device) if codes is None else codes
        return self.generator(z, c.to(device)), c.to(device)

    # ----------------------------------------------------------------------------- the loss
    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)
        fake, c = self.sample(x.shape[0])
        d = self.discriminator
        # discriminator: hinge on real and on the detached fake
        adv_real, info_real = d(x)
        adv_fake, _ = d(fake.detach())
        l_d = F.relu(1 - adv_real).mean() + F.relu(1 + adv_fake).mean()
        # generator: fool a copy of D whose weights carry no gradient
        frozen = {k: v.detach() for k, v in d.named_parameters()}
        adv_g, _ = functional_call(d, frozen, (fake,))
        l_g = -adv_g.mean()
        # information: the code and its image are a positive pair (cooperative: D and G)
        _, info_fake = d(fake)
        l_info = self.info_loss(info_fake, c)
        total = l_d + l_g + self.info_weight * l_info
        parts = {"d_adv": float(l_d.detach()), "g_adv": float(l_g.detach())}
        parts["info"] = float(l_info.detach())
        if self.variant == "c3gan":
            if self.real_weight > 0:  # real images: two views agree in h's space
                v1, v2 = views(x, 2, self.augment)
                l_real = nt_xent(d(v1)[1], d(v2)[1], self.temperature)
                total = total + self.real_weight * l_real
                parts["real"] = float(l_real.detach())
            if self.entropy_weight > 0:
                cond, marg = cluster_entropies(self.cluster_logits(info_real))
                total = total + self.entropy_weight * (cond - marg)
                parts["cond_entropy"] = float(cond.detach())
                parts["marg_entropy"] = float(marg.detach())
        return total, parts

    # ----------------------------------------------------------------------------- inference
    @torch.no_grad()
    def cluster(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Each image's cluster ``(N,)``: nearest centroid (C3-GAN) or ``argmax Q`` (InfoGAN)."""
        out = [
            self.cluster_logits(self.discriminator(x[i : i + batch_size])[1]).argmax(1)
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out)

    def embed(self, x: Tensor) -> Tensor:
        """The discriminator's information output (``h(x)`` or ``Q(x)``)."""
        return self.discriminator(x)[1]

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
        return Example(cls((1, 8, 8), n_codes=3, z_dim=4, dim=8), x, x)


METHOD = C3GAN
