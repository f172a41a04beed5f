"""SupCon: SimCLR's two views, but every image of the same class is a positive too.

Reference: Prannay Khosla, Piotr Teterwak, Chen Wang, Aaron Sarna, Yonglong Tian, Phillip Isola,
Aaron Maschinot, Ce Liu, Dilip Krishnan, "Supervised Contrastive Learning", NeurIPS 2020,
https://arxiv.org/abs/2004.11362.

    v1, v2 = aug(x), aug(x)                  two views of every image, as in SimCLR
    z = g(f(cat[v1, v2]))                    2N projected embeddings, labels cat[y, y]
    l_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip / t) / sum_{k != i} exp(s_ik / t) )
                                             P(i): every other view with i's label
    loss = mean_i l_i                        (the paper's "L_out": mean outside the log)

SimCLR treats the other images of i's class as negatives and pushes them away ("false
negatives"); SupCon pulls them in. With a label per image (``labels < 0`` = unlabelled) the
loss interpolates: an unlabelled image's only positive is its own other view, so a batch with
no labels at all gives exactly SimCLR's NT-Xent.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50/200, batch 256 instead of 6,144, a few
hundred Adam steps instead of 700 epochs of LARS, and no second-stage linear classifier
training: we read the encoder with kNN and a linear probe, as for the self-supervised methods.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig
from ..losses import supcon
from .base import Example, TwoViewMethod


def _labels_or_instances(y: Tensor) -> Tensor:
    """``y`` with every negative (unlabelled) entry replaced by a fresh, unique label."""
    unlabelled = y < 0
    if not unlabelled.any():
        return y
    fresh = int(y.max().clamp(min=-1)) + 1 + torch.arange(y.shape[0], device=y.device)
    return torch.where(unlabelled, fresh, y)


class SupCon(TwoViewMethod):
    """Encoder + projector trained with the supervised contrastive loss on two views per image.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head.
        temperature: SupCon's ``t``; 0.1 in the paper.
        augment: an ``AugmentConfig`` or preset name for the views.

    The batch is ``(x, y)`` (what ``fit`` yields for an ``ImageData``): images ``(N, C, H, W)``
    and integer labels ``(N,)``; a label ``< 0`` marks an unlabelled image.

    Example:
        >>> model = SupCon(SmallConvNet(), proj_dim=64, temperature=0.1)
        >>> hist = fit(model, shapes, steps=200)        # shapes: an ImageData
    """

    input_kind = "labelled_images"

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        temperature: float = 0.1,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        super().__init__(encoder, proj_dim, augment)
        self.temperature = temperature

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                "SupCon needs labelled batches (x, y): pass an ImageData (or a tuple (x, y)) "
                "to fit, not a bare tensor"
            )
        z1, z2 = self.two_views(batch)  # (N, proj_dim) each, views of the images batch[0]
        labels = _labels_or_instances(batch[1].to(z1.device).long())  # (N,)
        return supcon(torch.cat([z1, z2]), torch.cat([labels, labels]), self.temperature)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        y = torch.tensor([0, 0, 1, 1, 2, 2, -1, -1])  # two unlabelled images
        return Example(cls(SmallConvNet(widths=(8, 16))), (x, y), x)


# ---------------------------------------------------------------------------------------------
# Partial labels and false negatives (the threshold explorer is in contrastkit.explore.supcon)
# ---------------------------------------------------------------------------------------------


def mask_labels(y: Tensor, fraction: float, seed: int = 0) -> Tensor:
    """``y`` with all but a random ``fraction`` of the labels replaced by -1 (unlabelled)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(y.shape[0], generator=g) < fraction
    return torch.where(keep.to(y.device), y, torch.full_like(y, -1))


def false_negative_share(labels: Tensor) -> float:
    """Share of SimCLR's negatives that are really the anchor's class ("false negatives").

    In a batch of ``N`` images (``2N`` views) each anchor has ``2N - 2`` negatives; those with
    the anchor's label are false negatives. With ``C`` balanced classes this is about ``1/C``.
    """
    labels = labels.flatten()
    n = labels.shape[0]
    if n < 2:
        raise ValueError(f"labels must hold at least 2 images, got {n}")
    same = (labels[:, None] == labels[None, :]).sum() - n  # ordered same-class pairs, i != j
    # per view: 2 * (same-class other images) negatives out of 2N - 2
    return float(same) / (n * (n - 1))


METHOD = SupCon
