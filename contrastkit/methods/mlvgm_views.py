"""MLVGM views: positive pairs drawn from a generator with several latent levels, no real data.

Reference: Dario Serez, Marco Cristani, Alessio Del Bue, Vittorio Murino, Pietro Morerio, "A Mutual
Information Perspective on Multiple Latent Variable Generative Models for Positive View
Generation", TMLR 2025, https://arxiv.org/abs/2501.13718 (code: https://github.com/SerezD/mi_ml_gen).

A multiple-latent-variable generator (BigBiGAN, StyleGAN, NVAE) injects its latent chunks from
global to local, ``x = G(z_1, ..., z_K)``. A positive pair keeps the global chunks and redraws
(or nudges) the local ones::

    z = (z_1, ..., z_K) ~ truncated N(0, I)        anchor latents, fresh every step
    x  = G(z)                                      the anchor
    x' = G(z_1..z_k, z~_{k+1..K})                  the view: local chunks resampled
         (z~ ~ N(0, I), or z~ = z + eps * n: a random walk of scale eps)
    loss = NT-Xent(g(f(x)), g(f(x')); t)           SimCLR on the generated pairs

"Continuous Sampling" draws new anchors and views at every step, so the encoder never sees the
same sample twice; the paper compares it with a fixed, offline set of generated pairs and with
ordinary augmentation of real images. Which chunks to perturb comes from the paper's mutual-
information analysis of each chunk's contribution to the output: chunks that carry the class
must be kept, chunks that carry little can be redrawn freely.

Scaled down: ``contrastkit.generators.LatentLevelsGenerator`` (a frozen random decoder to
32-d vectors with a global level that holds the class, a mid and a local level) instead of a
pretrained BigBiGAN / StyleGAN; SimCLR with an MLP encoder instead of SimSiam / BYOL with a
ResNet; no learned "walkers", no image augmentation on top of the views; the per-chunk MI is
replaced by a Monte-Carlo, variance-based share of the output each chunk moves (a Sobol total
index: for a Gaussian channel, the more output variance a chunk explains, the more information
the output carries about it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributed import global_nt_xent
from ..generators import LEVELS, STANDARD_STRENGTH, LatentLevelsGenerator, vector_augment
from ..models import MLP, projection_head
from .base import Example, Method, images

__all__ = ["MODES", "GeneratedViews", "generated_pairs", "level_shares"]

MODES = ("continuous", "pairs", "augment")


def generated_pairs(
    generator: LatentLevelsGenerator,
    n: int,
    perturb=("mid", "local"),
    scale: float | None = None,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` anchors, one view of each with the ``perturb`` levels redrawn, and their classes.

    Args:
        generator: the multi-latent generator.
        perturb: the levels to redraw for the view (names from ``LEVELS``); ``"global"`` redraws
            the class too (the paper's negative control).
        scale: None redraws the levels from the prior; a number nudges them by ``scale * eps``.

    Returns:
        ``(x, x_view, y)``: ``(n, D)``, ``(n, D)`` and the anchors' classes ``(n,)``.
    """
    latents = generator.sample_latents(n, seed=seed)
    x = generator.decode(latents, seed=seed)
    moved = generator.resample(latents, perturb, seed=seed + 1, scale=scale)
    return x, generator.decode(moved, seed=seed + 2), latents["class"]


class GeneratedViews(Method):
    """SimCLR whose positive pairs come from a generator (or, as the baseline, from augmentation).

    Args:
        generator: the multi-latent generator (``LatentLevelsGenerator``).
        encoder: a module with ``out_dim``, or None for ``MLP(generator.dim, (128,), 64)``.
        mode: ``"continuous"`` (fresh generated pairs every step; the batch only gives the
            size), ``"pairs"`` (a batch is a tuple ``(x, x_view)`` of fixed, offline pairs, as
            from ``generated_pairs``), or ``"augment"`` (a batch of real rows, two
            ``vector_augment`` views of each: the standard-augmentation baseline).
        perturb: the levels a generated view redraws (default: all but the global one).
        scale: None redraws them; a number ``eps`` nudges them by ``eps * n``.
        strength: augmentation strength for ``"augment"``.
        proj_dim: projection size. temperature: NT-Xent's ``t``. seed: seeds continuous sampling.

    Example:
        >>> gen = LatentLevelsGenerator()
        >>> model = GeneratedViews(gen, mode="continuous", perturb=("mid", "local"))
        >>> ck.fit(model, torch.zeros(256, 1), steps=300, batch_size=256)  # data: just a size
    """

    input_kind = "vectors"  # real rows ("augment"), or only the batch size ("continuous")

    def __init__(
        self,
        generator: LatentLevelsGenerator,
        encoder: nn.Module | None = None,
        mode: str = "continuous",
        perturb=("mid", "local"),
        scale: float | None = None,
        strength: float = STANDARD_STRENGTH,
        proj_dim: int = 32,
        temperature: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        perturb = tuple(perturb)
        if not perturb or any(lv not in LEVELS for lv in perturb):
            raise ValueError(
                f"perturb must be a non-empty list of levels from {LEVELS}, got {perturb}"
            )
        self.generator = generator
        self.encoder = encoder if encoder is not None else MLP(generator.dim, (128,), 64)
        self.projector = projection_head(self.encoder.out_dim, out_dim=proj_dim)
        self.mode, self.perturb, self.scale = mode, perturb, scale
        self.strength, self.temperature = strength, temperature
        self.seed, self.draws = seed, 0

    def views(self, batch: Tensor | tuple) -> tuple[Tensor, Tensor]:
        """The two views ``(N, D)`` each of one training step."""
        if self.mode == "pairs":
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise ValueError(
                    "mode 'pairs' needs batches (x, x_view): fit on a tuple of tensors"
                )
            return batch[0], batch[1]
        x = images(batch)
        if self.mode == "augment":
            return vector_augment(x, self.strength), vector_augment(x, self.strength)
        # continuous sampling: a fresh, seeded draw of anchors and views at every call
        self.draws += 1
        x1, x2, _ = generated_pairs(
            self.generator,
            x.shape[0],
            self.perturb,
            self.scale,
            seed=self.seed * 1_000_003 + 3 * self.draws,
        )
        return x1.to(x.device), x2.to(x.device)

    def loss(self, batch: Tensor | tuple) -> Tensor:
        v1, v2 = self.views(batch)  # (N, D) each
        z = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, proj_dim)
        z1, z2 = z.chunk(2)
        return global_nt_xent(z1, z2, self.temperature)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the encoder's output."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        gen = LatentLevelsGenerator(seed=seed)
        model = cls(gen, MLP(gen.dim, (16,), 8), proj_dim=8, seed=seed)
        return Example(model, torch.zeros(8, 1), gen.sample(8, seed=seed + 1).x)


@torch.no_grad()
def level_shares(
    generator: LatentLevelsGenerator, n: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Each level's share of the output: ``E||G(z) - G(z with that level redrawn)||^2 / (2 Var x)``.

    A Monte-Carlo, variance-based (Sobol total-effect) stand-in for the paper's per-chunk mutual
    information: near 0 for a chunk the generator ignores, larger for one that shapes the output.
    The output noise is held fixed, so it counts for no level.
    """
    latents = generator.sample_latents(n, seed=seed)
    x = generator.decode(latents, seed=seed)
    total = 2 * float(x.var(0).sum())
    shares = {}
    for k, lv in enumerate(LEVELS):
        moved = generator.decode(generator.resample(latents, [lv], seed=seed + 1 + k), seed=seed)
        shares[lv] = float((moved - x).pow(2).sum(1).mean()) / total
    return shares


METHOD = GeneratedViews
