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

Scaled down: a 16-32-64-128 ConvNet instead of a ResNet/AlexNet, the `shapes` images at 16 px
instead of STL-10 / ImageNet-100, a few hundred Adam steps instead of 200 SGD epochs. The
paper's recommended ``alpha = 2, t = 2, lam = 1`` are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import align_uniform_loss
from ..models import projection_head
from .base import Method, images


class AlignUniform(Method):
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
        super().__init__()
        if alpha <= 0 or t <= 0 or lam < 0:
            raise ValueError(f"need alpha > 0, t > 0, lam >= 0; got {alpha=}, {t=}, {lam=}")
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.alpha, self.t, self.lam = alpha, t, lam
        self.augment = augment

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        v1, v2 = views(x, 2, self.augment)
        # one pass over both views: shared BN statistics, as in SimCLR
        z = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, proj_dim)
        z1, z2 = z.chunk(2)
        return align_uniform_loss(z1, z2, self.alpha, self.t, self.lam)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the encoder's output, before the projector."""
        return self.encoder(x)


def explorer_state(snapshots: Sequence[Mapping], step: int) -> dict:
    """What the notebook's sphere explorer draws at a training step (pure, so tests call it).

    Args:
        snapshots: in step order, each ``{"step": int, "points": (M, 3) array, "align": float,
            "unif": float}``: the 3-D projections of fixed images, and the alignment and
            uniformity measured at that step.
        step: the slider's value; the latest snapshot taken at or before it is shown (the
            first one for a step before every snapshot).

    Returns:
        ``{"index", "step", "points": (M, 3) on the unit sphere, "align", "unif", "path":
        (aligns, unifs) of the snapshots up to this one (the trajectory in the plane)}``.

    Raises:
        ValueError: for no snapshots, or snapshots out of step order.
    """
    if not snapshots:
        raise ValueError("snapshots must not be empty")
    steps = [int(s["step"]) for s in snapshots]
    if steps != sorted(steps):
        raise ValueError(f"snapshots must be in step order, got steps {steps}")
    index = max(0, int(np.searchsorted(steps, step, side="right")) - 1)
    shown = snapshots[index]
    points = np.asarray(shown["points"], dtype=float)
    points = points / np.linalg.norm(points, axis=1, keepdims=True).clip(1e-12)
    upto = snapshots[: index + 1]
    return {
        "index": index,
        "step": steps[index],
        "points": points,
        "align": float(shown["align"]),
        "unif": float(shown["unif"]),
        "path": ([float(s["align"]) for s in upto], [float(s["unif"]) for s in upto]),
    }


METHOD = AlignUniform
