"""Alignment + uniformity: optimise the two properties InfoNCE is good for, directly.

Reference: Tongzhou Wang, Phillip Isola, "Understanding Contrastive Representation Learning
through Alignment and Uniformity on the Hypersphere", ICML 2020,
https://arxiv.org/abs/2005.10242.

    v1, v2 = aug(x), aug(x)                  two views of every image
    z = normalize(g(f(v)))                   encoder f, projector g, onto the unit sphere
    L_align = E ||z1 - z2||^alpha            positives close (alpha = 2)
    L_unif  = log E exp(-t ||z_i - z_j||^2)  all pairs spread out (t = 2)
    loss = L_align + lam * (L_unif(z1) + L_unif(z2)) / 2

The paper shows that NT-Xent asymptotically optimises exactly these two terms (with the
temperature trading one against the other), and that this direct loss matches or beats it.
At this scale it matches NT-Xent within a few kNN points, slightly behind (the notebook).

Scaled down: a 16-32-64-128 ConvNet instead of a ResNet/AlexNet, the `shapes` images at 16 px
instead of STL-10 / ImageNet-100, a few hundred Adam steps instead of 200 SGD epochs. The
paper's recommended ``alpha = 2, t = 2, lam = 1`` are kept.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..augment import AugmentConfig
from ..losses import align_uniform_loss
from .base import TwoViewMethod


class AlignUniform(TwoViewMethod):
    """Encoder + projector trained with ``L_align + lam * L_unif`` on two views per image.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head (3 to watch it on the sphere).
        alpha: alignment exponent (2 in the paper).
        t: uniformity's Gaussian-potential scale (2 in the paper).
        lam: weight of the uniformity term (1 in the paper).
        augment: an ``AugmentConfig`` or preset name for the views.

    Example:
        >>> model = AlignUniform(SmallConvNet(), proj_dim=64)
        >>> hist = ck.fit(model, shapes.x, steps=200)
    """

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        alpha: float = 2.0,
        t: float = 2.0,
        lam: float = 1.0,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        if alpha <= 0 or t <= 0 or lam < 0:
            raise ValueError(f"need alpha > 0, t > 0, lam >= 0; got {alpha=}, {t=}, {lam=}")
        super().__init__(encoder, proj_dim, augment)
        self.alpha, self.t, self.lam = alpha, t, lam

    def pair_loss(self, z1: Tensor, z2: Tensor) -> Tensor:
        # z1, z2: (N, proj_dim), the projections of two views of the same N images
        return align_uniform_loss(z1, z2, self.alpha, self.t, self.lam)


METHOD = AlignUniform
