"""A small generator with several latent levels, for methods that take data or views from one.

``LatentLevelsGenerator`` is a frozen, seeded, random decoder from latent chunks to vectors,
built like the multi-latent generators of the papers (BigBiGAN, StyleGAN, NVAE): each chunk is
injected at its own depth, the global one first::

    h0 = class_scale * e[y] + A_g z_global          the class and its coarse variation
    h1 = tanh(W1 h0) + A_m z_mid                    mid-level detail, injected one layer later
    h2 = tanh(W2 h1) + A_l z_local                  local detail, injected last
    x  = W3 h2 + noise * eps                        the output vector (dim D)

with ``z_k ~ N(0, I)`` (optionally truncated, as GANs sample), ``e[y]`` a fixed random class
embedding and ``W``, ``A`` fixed random matrices. Ground truth: the class ``y`` lives in the
global level only; the local level carries the most output variance (a nuisance, like a
background), so raw vectors score poorly with kNN while an encoder that ignores the local
level does well. Everything is seeded with a CPU generator: the same tensors on any machine.

Used by two methods (never copied):

* ``adainf``: real data from the generator, and "generated data" from a deliberately
  imperfect copy of it (:meth:`LatentLevelsGenerator.degraded`: classes mixed, weights off);
* ``mlvgm_views``: positive views made by keeping the global levels of an anchor and
  redrawing the others (:meth:`LatentLevelsGenerator.resample`).

:func:`vector_augment` is the usual augmentation for such vectors (noise and feature masking
with one strength knob), the "augment real data" alternative both methods compare against.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LEVELS", "STANDARD_STRENGTH", "LatentLevelsGenerator", "Sample", "vector_augment"]

LEVELS: tuple[str, ...] = ("global", "mid", "local")
STANDARD_STRENGTH = 0.6  # the "standard" strength of ``vector_augment`` (best on real rows alone)


@dataclass
class Sample:
    """Generated vectors ``x (n, dim)``, their classes ``y (n,)`` and the latents behind them.

    ``latents`` maps each level of ``LEVELS`` to ``(n, d_level)`` and ``"class"`` to ``y`` (the
    class belongs to the global level); ``mix`` ``(n,)`` is the other
    class's share in a degraded generator's class embedding (zeros for a faithful one) and
    ``other`` ``(n,)`` that other class.
    """

    x: Tensor
    y: Tensor
    latents: dict[str, Tensor]
    mix: Tensor
    other: Tensor


def _check_levels(levels) -> tuple[str, ...]:
    levels = tuple(levels)
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValueError(f"levels must be names from {LEVELS}, got {bad}")
    return levels


class LatentLevelsGenerator:
    """A frozen random decoder ``x = G(y, z_global, z_mid, z_local)`` (see the module doc).

    Args:
        dim: output size D.
        n_classes: number of classes (>= 2).
        latent_dims: sizes of the global, mid and local chunks.
        hidden: width of the decoder's hidden layers.
        scales: how strongly each chunk enters its layer, ``{"class", "global", "mid", "local"}``
            (defaults: class 1.6, global 0.5, mid 0.8, local 1.6 -- the local level carries the
            most output variance).
        noise: std of the output noise.
        truncation: sample ``z`` from a normal truncated to ``[-t, t]`` (None: not truncated).
        seed: seeds the decoder's weights (sampling has its own seed).

    Raises:
        ValueError: a size out of range (the message names it).

    Example:
        >>> gen = LatentLevelsGenerator(dim=32, seed=0)
        >>> s = gen.sample(500, seed=1)
        >>> view = gen.decode(gen.resample(s.latents, ["local"], seed=2), seed=3)
    """

    def __init__(
        self,
        dim: int = 32,
        n_classes: int = 10,
        latent_dims: tuple[int, int, int] = (4, 8, 8),
        hidden: int = 64,
        scales: dict[str, float] | None = None,
        noise: float = 0.05,
        truncation: float | None = 2.0,
        seed: int = 0,
    ) -> None:
        for name, v in (("dim", dim), ("hidden", hidden)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if len(latent_dims) != len(LEVELS) or any(int(d) <= 0 for d in latent_dims):
            raise ValueError(f"latent_dims must be 3 positive sizes, got {latent_dims!r}")
        if truncation is not None and truncation <= 0:
            raise ValueError(f"truncation must be > 0 or None, got {truncation!r}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.dim, self.n_classes, self.hidden = dim, n_classes, hidden
        self.latent_dims = dict(zip(LEVELS, (int(d) for d in latent_dims), strict=True))
        self.scales = {"class": 1.6, "global": 0.5, "mid": 0.8, "local": 1.6, **(scales or {})}
        self.noise, self.truncation = noise, truncation
        g = torch.Generator().manual_seed(seed)

        def mat(rows: int, cols: int) -> Tensor:  # unit-variance outputs for unit-variance inputs
            return torch.randn(rows, cols, generator=g) / cols**0.5

        self.embed = torch.randn(n_classes, hidden, generator=g)  # e[y]: (C, H)
        self.inject = {lv: mat(hidden, d) for lv, d in self.latent_dims.items()}  # A_k: (H, d_k)
        self.w1, self.w2 = 2.0 * mat(hidden, hidden), 2.0 * mat(hidden, hidden)
        self.w3 = mat(dim, hidden)
        # a degraded copy mixes each class with another one (see ``degraded``)
        self.mix_max = 0.0

    # -- latents -------------------------------------------------------------------------------

    def _normal(self, n: int, d: int, g: torch.Generator) -> Tensor:
        z = torch.randn(n, d, generator=g)
        if self.truncation is not None:  # BigGAN's truncation: redraw what falls outside
            for _ in range(20):
                out = z.abs() > self.truncation
                if not out.any():
                    break
                z = torch.where(out, torch.randn(n, d, generator=g), z)
            z = z.clamp(-self.truncation, self.truncation)
        return z

    def sample_latents(self, n: int, seed: int = 0) -> dict[str, Tensor]:
        """Latents ``{"class": (n,) uniform classes, level: (n, d_level) for each level}``."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, self.n_classes, (n,), generator=g)
        return {"class": y, **{lv: self._normal(n, d, g) for lv, d in self.latent_dims.items()}}

    def resample(
        self,
        latents: dict[str, Tensor],
        levels,
        seed: int = 0,
        scale: float | None = None,
    ) -> dict[str, Tensor]:
        """New latents with the chunks in ``levels`` redrawn; the other chunks are kept.

        Args:
            latents: as from :meth:`sample_latents`.
            levels: names from ``LEVELS`` to perturb; ``"global"`` redraws the class too (the
                class is part of the global level).
            scale: None redraws the chunk from the prior (the paper's resampling); a number
                ``s`` perturbs it instead, ``z + s * eps`` (the paper's random walk).
        """
        levels = _check_levels(levels)
        if scale is not None and scale < 0:
            raise ValueError(f"scale must be >= 0 or None, got {scale!r}")
        g = torch.Generator().manual_seed(seed)
        out = dict(latents)
        if "global" in levels:
            y = latents["class"]
            out["class"] = torch.randint(0, self.n_classes, y.shape, generator=g).to(y.device)
        for lv in levels:
            z = latents[lv]
            fresh = self._normal(z.shape[0], z.shape[1], g).to(z.device)
            out[lv] = fresh if scale is None else z + scale * fresh
        return out

    # -- decoding ------------------------------------------------------------------------------

    def decode(
        self,
        latents: dict[str, Tensor],
        seed: int = 0,
        other: Tensor | None = None,
        mix: Tensor | None = None,
    ) -> Tensor:
        """``x = G(z)`` ``(n, dim)``; ``mix``/``other`` blend in another class's embedding.

        ``seed`` seeds the output noise.
        """
        s = self.scales
        e = self.embed[latents["class"]]  # (n, H)
        if mix is not None and other is not None:
            e = (1 - mix[:, None]) * e + mix[:, None] * self.embed[other]
        h = s["class"] * e + s["global"] * latents["global"] @ self.inject["global"].T
        h = torch.tanh(h @ self.w1.T) + s["mid"] * latents["mid"] @ self.inject["mid"].T
        h = torch.tanh(h @ self.w2.T) + s["local"] * latents["local"] @ self.inject["local"].T
        x = h @ self.w3.T  # (n, D)
        if self.noise:
            g = torch.Generator().manual_seed(seed + 7919)
            x = x + self.noise * torch.randn(x.shape, generator=g)
        return x

    def sample(self, n: int, seed: int = 0) -> Sample:
        """``n`` seeded samples. A degraded generator mixes each one's class with another's:
        the recorded ``y`` is the intended class, ``mix`` how much of ``other`` leaked in."""
        latents = self.sample_latents(n, seed)
        y = latents["class"]
        g = torch.Generator().manual_seed(seed + 104729)
        other = (y + torch.randint(1, self.n_classes, (n,), generator=g)) % self.n_classes
        mix = self.mix_max * torch.rand(n, generator=g)
        x = self.decode(latents, seed=seed, other=other, mix=mix)
        return Sample(x=x, y=y, latents=latents, mix=mix, other=other)

    def degraded(self, quality: float, seed: int = 0) -> LatentLevelsGenerator:
        """An imperfect copy, as a generator fitted to too little data would be.

        ``quality`` in [0, 1]: 1 is this generator itself. Lower quality (a) mixes each sample's
        class embedding with a random other class, up to ``0.8 (1 - quality)`` of it (samples
        between classes: the label mismatch that hurts contrastive learning), (b) perturbs the
        decoder's weights by ``0.5 (1 - quality)`` of their scale (a shifted distribution) and
        (c) collapses the local level's variety (a generator that misses modes).
        """
        if not 0.0 <= quality <= 1.0:
            raise ValueError(f"quality must be in [0, 1], got {quality!r}")
        bad = copy.deepcopy(self)
        off = 1.0 - quality
        g = torch.Generator().manual_seed(seed + 31)
        bad.mix_max = 0.8 * off
        for name in ("w1", "w2", "w3"):
            w = getattr(bad, name)
            setattr(bad, name, w + 0.5 * off * w.std() * torch.randn(w.shape, generator=g))
        bad.scales = {**bad.scales, "local": bad.scales["local"] * (1 - 0.5 * off)}
        return bad


def vector_augment(x: Tensor, strength: float, noise: float = 1.0, mask: float = 0.3) -> Tensor:
    """A random view of vectors ``x (n, D)``: feature masking and noise shaped like the data.

    Each feature is zeroed with probability ``mask * strength``, then ``noise * strength`` times
    the difference of two other random rows (over sqrt 2) is added: noise whose covariance is
    the batch's own, so high-variance directions (the nuisances, here) move the most -- the
    vector analogue of AlexNet's PCA colour jitter, with no eigendecomposition. ``strength = 0``
    returns ``x`` unchanged; 1 is strong.

    Raises:
        ValueError: ``strength`` outside [0, 1] or ``x`` not 2-D with >= 2 rows.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (n, D) with n >= 2, got shape {tuple(x.shape)}")
    if strength == 0:
        return x
    n = x.shape[0]
    keep = (torch.rand_like(x) >= mask * strength).to(x.dtype)
    i = torch.randint(0, n, (n,), device=x.device)
    j = torch.randint(0, n, (n,), device=x.device)
    return x * keep + noise * strength * (x[i] - x[j]) / 2**0.5
