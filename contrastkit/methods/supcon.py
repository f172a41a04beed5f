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
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import supcon
from ..models import projection_head
from .base import Method


def _labels_or_instances(y: Tensor) -> Tensor:
    """``y`` with every negative (unlabelled) entry replaced by a fresh, unique label."""
    unlabelled = y < 0
    if not unlabelled.any():
        return y
    fresh = int(y.max().clamp(min=-1)) + 1 + torch.arange(y.shape[0], device=y.device)
    return torch.where(unlabelled, fresh, y)


class SupCon(Method):
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
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.temperature = temperature
        self.augment = augment

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                "SupCon needs labelled batches (x, y): pass an ImageData (or a tuple (x, y)) "
                "to fit, not a bare tensor"
            )
        x, y = batch[0], batch[1]  # (N, C, H, W), (N,)
        v1, v2 = views(x, 2, self.augment)
        z = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, proj_dim)
        labels = _labels_or_instances(y.to(z.device).long())
        return supcon(z, torch.cat([labels, labels]), self.temperature)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the encoder's output, before the projector."""
        return self.encoder(x)


# ---------------------------------------------------------------------------------------------
# False negatives made visible: pure functions behind the notebook's figures and threshold slider
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


def pair_cosines(z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Cosine similarity of every pair ``i < j``: ``(cos, same, index)``.

    Returns:
        ``cos (P,)`` the pairs' cosines, ``same (P,)`` bool (same label) and ``index (P, 2)``
        the pairs' rows, ``P = N (N - 1) / 2``.
    """
    zn = F.normalize(z.detach().float().cpu(), dim=1)
    labels = labels.cpu()
    i, j = torch.triu_indices(len(zn), len(zn), offset=1)
    cos = (zn[i] * zn[j]).sum(dim=1)
    return cos, labels[i] == labels[j], torch.stack([i, j], dim=1)


def threshold_readout(cos: Tensor, same: Tensor, threshold: float) -> dict[str, float]:
    """What the threshold slider reports for one embedding.

    Returns:
        ``same_below``: share of same-class pairs with cosine below ``threshold`` (pushed
        apart: SimCLR's false negatives); ``different_above``: share of different-class pairs
        above it (confusable); ``same_mean`` / ``different_mean``: the two means.
    """
    if not -1 <= threshold <= 1:
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    if not same.any() or same.all():
        raise ValueError("need both same-class and different-class pairs")
    return {
        "same_below": float((cos[same] < threshold).float().mean()),
        "different_above": float((cos[~same] >= threshold).float().mean()),
        "same_mean": float(cos[same].mean()),
        "different_mean": float(cos[~same].mean()),
    }


def pairs_below(
    cos: Tensor, same: Tensor, index: Tensor, threshold: float, k: int = 8, seed: int = 0
) -> Tensor:
    """Up to ``k`` random same-class pairs ``(k, 2)`` whose cosine is below ``threshold``."""
    hits = (same & (cos < threshold)).nonzero().flatten()
    pick = torch.randperm(len(hits), generator=torch.Generator().manual_seed(seed))[:k]
    return index[hits[pick]]


METHOD = SupCon
