"""cMIM: a probabilistic autoencoder (MIM) plus a contrastive term that needs no augmentation.

Reference: Micha Livne, "cMIM: A Contrastive Mutual Information Framework for Unified Generative
and Discriminative Representation Learning", arXiv 2025, https://arxiv.org/abs/2502.19642
(v2: "Contrastive Mutual Information Learning: Toward Robust Representations without
Positive-Pair Augmentations", https://arxiv.org/abs/2509.21511; an earlier draft, "Contrastive
MIM", https://arxiv.org/abs/2411.10548). MIM itself: Micha Livne,
Kevin Swersky, David J. Fleet, "MIM: Mutual Information Machine", arXiv 2019,
https://arxiv.org/abs/1910.03175.

    q(z|x) = N(mu(x), sigma(x)^2)          encoder: a Gaussian posterior per image
    p(x|z) = N(dec(z), s^2 I)              decoder, fixed pixel noise s
    L_MIM  = -1/2 E_{z~q(z|x)} [ log p(x|z) + log N(z; 0, I) + log q(z|x) ]     (A-MIM)
    L_cMIM = L_MIM + w * NT-Xent(z, z'; t)   z, z' ~ q(.|x): two draws from the same posterior

Unlike the ELBO, A-MIM *rewards* ``log q(z|x)``: a peaked, high-information encoder. The
contrastive term treats two draws from one image's posterior as the positive pair and the rest
of the batch as negatives, so no augmentation is needed: it spreads the codes over directions
(global angular structure) while the decoder keeps them informative about the pixels.

Assumptions (written from the papers' abstracts, not their equations): the contrastive term's
exact form (positives from two posterior draws, NT-Xent on the codes) is our reading of the
abstracts; the posterior's ``sigma`` is kept above ``sigma_min`` because A-MIM's
``+log q`` is unbounded for a continuous Gaussian. "Informative embeddings" are taken as the
code ``mu(x)`` concatenated with the decoder's hidden activations at ``z = mu(x)``, read out
without training.

Scaled down: MLPs ``64 -> 128 -> 16`` and ``16 -> 128 -> 64`` on 8x8 digits instead of the paper's
convolutional and transformer models on MNIST-like images and molecules.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses import mim_loss, nt_xent
from ..utils import eval_mode
from .base import Example, Method, images


class CMIM(Method):
    """Gaussian encoder + decoder trained with A-MIM and (``weight > 0``) an in-batch contrast.

    Args:
        in_dim: flattened input size (64 for 8x8 digits).
        latent: code size d. hidden: width of the hidden layer of encoder and decoder.
        weight: ``w`` of the contrastive term; 0 gives plain MIM.
        temperature: NT-Xent's ``t`` on the codes.
        pixel_std: the decoder's fixed noise ``s`` (smaller weighs reconstruction more).
        sigma_min: the smallest posterior std.

    Example:
        >>> m = CMIM(64, weight=1.0)                   # cMIM; CMIM(64, weight=0.0) is MIM
        >>> hist = ck.fit(m, digits.x, steps=600, batch_size=64)
        >>> features = m.informative(digits.x)         # (N, 16 + 128)
    """

    input_kind = "images"  # flattened; built with their size, so not for ``contrastkit train``

    def __init__(
        self,
        in_dim: int,
        latent: int = 16,
        hidden: int = 128,
        weight: float = 1.0,
        temperature: float = 0.1,
        pixel_std: float = 0.1,
        sigma_min: float = 0.01,
    ) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight!r}")
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent)
        )
        self.decoder_hidden = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU())
        self.decoder_out = nn.Linear(hidden, in_dim)
        self.weight, self.temperature = weight, temperature
        self.pixel_std, self.sigma_min = pixel_std, sigma_min
        self.out_dim = latent

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, sigma)`` of ``q(z|x)``, each ``(N, d)``."""
        mu, raw = self.encoder(x).chunk(2, dim=1)
        return mu, self.sigma_min + nn.functional.softplus(raw)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder_out(self.decoder_hidden(z))

    def terms(self, x: Tensor) -> dict[str, Tensor]:
        """The loss's parts for a batch: ``{"mim", "contrastive", "loss", "mse"}``."""
        x = x.flatten(1)  # (N, in_dim)
        mu, sigma = self.posterior(x)
        z = mu + sigma * torch.randn_like(mu)  # (N, d) reparameterised draw
        x_rec = self.decode(z)
        mim = mim_loss(x, x_rec, z, mu, sigma, self.pixel_std)
        out = {"mim": mim, "mse": ((x_rec - x) ** 2).mean()}
        if self.weight > 0:
            z2 = mu + sigma * torch.randn_like(mu)  # a second draw: the positive, no augmentation
            out["contrastive"] = nt_xent(z, z2, self.temperature)
            out["loss"] = mim + self.weight * out["contrastive"]
        else:
            out["contrastive"] = mim.new_zeros(())
            out["loss"] = mim
        return out

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        """The objective, with its parts (``mim``, ``contrastive``) logged by ``fit``."""
        t = self.terms(images(batch))
        return t["loss"], {
            "mim": float(t["mim"].detach()),
            "contrastive": float(t["contrastive"].detach()),
        }

    def embed(self, x: Tensor) -> Tensor:
        """The code ``mu(x)`` (the posterior mean)."""
        return self.posterior(x.flatten(1))[0]

    @torch.no_grad()
    def informative(self, x: Tensor) -> Tensor:
        """Informative embeddings ``(N, d + h)``: ``[mu(x) ; decoder hidden layer at mu(x)]``."""
        return readout(self, x, ("code", "decoder"))

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
        return Example(cls(64, latent=4, hidden=16), x, x)


READOUTS = ("code", "decoder")


@torch.no_grad()
def readout(model: CMIM, x: Tensor, parts: tuple[str, ...] | list[str] = ("code",)) -> Tensor:
    """Features of ``x`` read from a trained encoder-decoder, without training (pure).

    Args:
        model: a ``CMIM`` (MIM when its weight is 0). x: images ``(N, ...)``.
        parts: any of ``"code"`` (``mu(x)``, ``(N, d)``) and ``"decoder"`` (the decoder's hidden
            layer at ``z = mu(x)``, ``(N, h)``), concatenated in that order; both together are
            the informative embeddings.

    Raises:
        ValueError: an unknown or empty ``parts``.
    """
    parts = tuple(parts)
    if not parts or any(p not in READOUTS for p in parts):
        raise ValueError(f"parts must be a non-empty subset of {READOUTS}, got {parts!r}")
    with eval_mode(model):
        mu = model.embed(x)
        out = [
            f for name, f in (("code", mu), ("decoder", model.decoder_hidden(mu))) if name in parts
        ]
    return torch.cat(out, dim=1)


METHOD = CMIM
