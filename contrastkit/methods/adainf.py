"""AdaInf: data inflation with generated samples, done so that it does not hurt.

Reference: Yifei Wang, Jizhe Zhang, Yisen Wang, "Do Generated Data Always Help Contrastive
Learning?", ICLR 2024, https://arxiv.org/abs/2403.12448 (code: https://github.com/PKU-ML/adainf).

The contrastive loss is SimCLR's, unchanged; only the data and the augmentation change::

    D_vanilla = D_real  U  D_gen                    "data inflation": real and generated rows
    D_adainf  = dup x D_real  U  D_gen              real rows replicated (dup = 10 in the code)
    v1, v2 = aug_s(x), aug_s(x)   for x ~ D         two views at augmentation strength s
    loss = NT-Xent(g(f(v1)), g(f(v2)); t)

AdaInf = replicate the real data (so they keep about half of the batch) *and* weaken the
augmentation (the paper's recipe: crop scale >= 0.2 instead of 0.08, colour jitter with
probability 0.4 instead of 0.8, no blur). Its explanation: augmentation makes samples of one
class overlap so that the learned graph is connected, which scarce data need, at the price of
views whose label is ambiguous; inflated data are dense enough already, so the best strength
moves down.

Scaled down: vectors from ``contrastkit.generators.LatentLevelsGenerator`` (a frozen random
decoder with global / mid / local latent levels) instead of CIFAR-10 images; the "diffusion
model" is a deliberately imperfect copy of that generator (``degraded``: classes blended, weights
off, fewer modes) instead of a fitted DDPM / STF; augmentation is masking plus data-shaped noise
(``vector_augment``, one strength knob in [0, 1]) instead of the image pipeline; an MLP encoder,
a few hundred steps. Halving the strength (0.6 -> 0.3) plays the role of the paper's halved
jitter probability and milder crops.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributed import global_nt_xent
from ..generators import STANDARD_STRENGTH, LatentLevelsGenerator, vector_augment
from ..models import MLP, projection_head
from .base import Example, Method, images

__all__ = [
    "ADAINF_DUP",
    "ADAINF_STRENGTH",
    "STANDARD_STRENGTH",
    "AdaInf",
    "inflate",
    "real_share",
]

ADAINF_STRENGTH = 0.3  # AdaInf's weakened augmentation: half the standard strength
ADAINF_DUP = 10  # real rows are replicated this many times (``data.dup`` in the paper's code)


def inflate(real: Tensor, generated: Tensor | None = None, dup: int = 1) -> Tensor:
    """The training rows of data inflation: ``dup`` copies of ``real`` followed by ``generated``.

    ``dup = 1`` is vanilla inflation (every row counts once), ``dup = 10`` AdaInf's mixture;
    ``generated = None`` is the real data alone. Uniform batches from the result give real rows
    the share :func:`real_share`.

    Raises:
        ValueError: ``dup < 1`` or mismatched feature shapes (the message names the argument).
    """
    if not isinstance(dup, int) or dup < 1:
        raise ValueError(f"dup must be an integer >= 1, got {dup!r}")
    parts = [real.repeat(dup, *([1] * (real.ndim - 1)))]
    if generated is not None:
        if generated.shape[1:] != real.shape[1:]:
            raise ValueError(
                f"generated rows must have the shape of real rows {tuple(real.shape[1:])}, "
                f"got {tuple(generated.shape[1:])}"
            )
        parts.append(generated.to(real.device, real.dtype))
    return torch.cat(parts)


def real_share(n_real: int, n_generated: int, dup: int = 1) -> float:
    """Expected fraction of real rows in a batch drawn uniformly from ``inflate(...)``."""
    if n_real < 0 or n_generated < 0 or dup < 1:
        raise ValueError(
            f"n_real and n_generated must be >= 0 and dup >= 1, got {n_real}, {n_generated}, {dup}"
        )
    total = dup * n_real + n_generated
    return dup * n_real / total if total else 0.0


class AdaInf(Method):
    """SimCLR on vectors with one augmentation-strength knob (the data recipe is ``inflate``).

    Args:
        encoder: a module with ``out_dim``, or an input size for the default
            ``MLP(in_dim, (128,), 64)``.
        strength: augmentation strength in [0, 1] (``STANDARD_STRENGTH`` for real data alone,
            ``ADAINF_STRENGTH`` for AdaInf).
        proj_dim: projection size. temperature: NT-Xent's ``t``.

    Example:
        >>> gen = LatentLevelsGenerator()
        >>> real, fake = gen.sample(300, seed=1).x, gen.degraded(0.5).sample(3000, seed=2).x
        >>> model = AdaInf(32, strength=ADAINF_STRENGTH)
        >>> ck.fit(model, inflate(real, fake, dup=ADAINF_DUP), steps=300, batch_size=256)
    """

    input_kind = "vectors"

    def __init__(
        self,
        encoder: nn.Module | int = 32,
        strength: float = ADAINF_STRENGTH,
        proj_dim: int = 32,
        temperature: float = 0.5,
    ) -> None:
        super().__init__()
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength!r}")
        if isinstance(encoder, int):
            encoder = MLP(encoder, (128,), 64)
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.strength = strength
        self.temperature = temperature

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, D) rows of the (inflated) data
        v1, v2 = vector_augment(x, self.strength), vector_augment(x, self.strength)
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
        real = gen.sample(8, seed=seed + 1).x
        fake = gen.degraded(0.5, seed=seed).sample(8, seed=seed + 2).x
        rows = inflate(real, fake, dup=2)  # (24, D)
        return Example(cls(MLP(gen.dim, (16,), 8), proj_dim=8), rows, rows[:8])


METHOD = AdaInf
