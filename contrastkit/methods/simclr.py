"""SimCLR: two augmented views of each image, told apart from all other images in the batch.

Reference: Ting Chen, Simon Kornblith, Mohammad Norouzi, Geoffrey Hinton, "A Simple Framework
for Contrastive Learning of Visual Representations", ICML 2020,
https://arxiv.org/abs/2002.05709.

    v1, v2 = aug(x), aug(x)            two views of every image
    h = f(v)                           encoder (the representation we keep)
    z = g(h)                           projection head (thrown away after training)
    loss = NT-Xent(z1, z2; t)          each view must pick its partner among 2N - 1 candidates

The encoder learns to ignore only what the augmentation changes between the two views. The
default ``"simclr"`` preset (the paper's CIFAR-10 recipe) changes position and scale a lot but
colour only a little (hue at most 0.1 of a turn, grey in 20% of views): on ``shapes``, whose
object and background colours are random per image, colour stays a shortcut for matching views
and the gain over raw pixels stays modest. ``augment="shapes"`` (any hue, grey in half the views)
removes that shortcut.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50, batch 256 instead of 4,096, a few
hundred steps with Adam instead of LARS for hundreds of epochs, a 2-layer projection head to 64
dimensions instead of 2,048 -> 128.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..augment import AugmentConfig
from ..distributed import global_nt_xent
from .base import TwoViewMethod


class SimCLR(TwoViewMethod):
    """Encoder + projector trained with NT-Xent on two views per image.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head.
        temperature: NT-Xent's ``t``.
        augment: an ``AugmentConfig`` or preset name for the views.
    """

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        temperature: float = 0.5,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        super().__init__(encoder, proj_dim, augment)
        self.temperature = temperature

    def pair_loss(self, z1: Tensor, z2: Tensor) -> Tensor:
        # z1, z2: (N, proj_dim), the projections of two views of the same N images.
        # nt_xent itself in one process; under torchrun, negatives from every rank's batch
        return global_nt_xent(z1, z2, self.temperature)


METHOD = SimCLR
