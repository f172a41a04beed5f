"""Pixel-to-prototype contrast (P2P) for weakly supervised semantic segmentation.

Reference: Ye Du, Zehua Fu, Qingjie Liu, Yunhong Wang, "Weakly Supervised Semantic Segmentation
by Pixel-to-Prototype Contrast", CVPR 2022, https://arxiv.org/abs/2110.07110
(code: https://github.com/usr922/wseg).

Only image-level labels are given ("this image holds classes 2 and 7"). A classifier's class
activation maps (CAMs) turn them into pixel pseudo-labels, but CAMs light up only the most
discriminative pixels. P2P builds one prototype per class from the pixels the CAM is most sure
of and contrasts every pixel's embedding with them, across two views and within one view:

    cam_c = relu(W_c . f(v)_p) / max_p(...)       normalised CAM of class c (image labels only)
    y_p = argmax( [t_bg, cam_1 * l_1, ..., cam_C * l_C] )   pseudo-label, background score t_bg
    rho_c = normalise( sum_{p in top-k of cam_c} cam_c(p) e_p / sum cam_c(p) )   no gradient
    NCE(e, rho) = - mean_p log( exp(e_p . rho_{y_p} / t) / sum_c exp(e_p . rho_c / t) )
    L = BCE(GAP(cam logits), labels)  +  gamma [ NCE(e(v1), rho(v2)) + NCE(e(v2), rho(v1))
                                                + NCE(e(v1), rho(v1)) + NCE(e(v2), rho(v2)) ] / 2

``e_p`` is a projection of the pixel's feature (unit norm); with ``gamma = 0`` it is the plain
CAM classifier, the baseline of the paper.

Scaled down: ``make_part_scenes`` grids (a cell is a pixel, its part id the ground truth; the
image-level label is the set of part types present) and a 3-layer stride-1 ``DenseConvNet``
instead of ResNet-38 on VOC; views are the scene with two draws of fresh noise (no rescaling:
the grid has one scale); no SEAM/EPS losses, no hard prototype and hard pixel mining in the
intra-view term (with 13 prototypes, "ranks 4-13" is all of them), and no PCM/CRF refinement.
The background prototype is weighted by ``1 - max_c cam_c`` (wseg sets the background score to a
constant, which makes its top-k pixels arbitrary).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.synthetic import random_crop
from ..losses import pixel_prototype_nce
from .base import Example, Method


def normalized_cam(cam: Tensor) -> Tensor:
    """``(N, C, H, W)`` class maps -> ReLU, then divided by each map's maximum (in ``[0, 1]``)."""
    cam = F.relu(cam)
    return cam / cam.flatten(2).amax(2)[..., None, None].clamp_min(1e-5)


def pseudo_labels(cam: Tensor, labels: Tensor, threshold: float = 0.3) -> Tensor:
    """The CAM's segmentation: per pixel, the best present class, or background (0).

    ``argmax([threshold, cam_1 * l_1, ..., cam_C * l_C])`` with normalised CAMs: a pixel goes
    to class ``c`` (label ``c + 1``) if ``c`` is in the image and its CAM beats the background
    score ``threshold``. Pure: training and the notebook's slider both call it.

    Args:
        cam: ``(N, C, H, W)`` raw class maps. labels: ``(N, C)`` image-level multi-hot labels.
        threshold: the background score in ``[0, 1]``.

    Returns:
        ``(N, H, W)`` long in ``[0, C]`` (0 = background).

    Raises:
        ValueError: mismatched shapes or a threshold outside ``[0, 1]``.
    """
    if cam.ndim != 4 or labels.shape != cam.shape[:2]:
        raise ValueError(
            f"cam must be (N, C, H, W) and labels (N, C), got {tuple(cam.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    scores = normalized_cam(cam) * labels.to(cam.dtype)[..., None, None]
    background = torch.full_like(scores[:, :1], threshold)
    return torch.cat([background, scores], 1).argmax(1)


@torch.no_grad()
def class_prototypes(
    embeddings: Tensor, cam: Tensor, labels: Tensor, top_fraction: float = 1 / 16
) -> tuple[Tensor, Tensor]:
    """One prototype per class (background first) from the pixels its CAM is most sure of.

    For class ``c`` the weight of pixel ``p`` is ``cam_c(p) * l_c`` (background: ``1 - max_c``
    of the label-masked CAMs); the prototype is the weighted mean of the ``top_fraction`` of
    the batch's pixels with the largest weight, normalised.

    Returns:
        ``(C + 1, D)`` prototypes and ``(C + 1,)`` bool: the class occurs in the batch.
    """
    n, d, h, w = embeddings.shape
    scores = normalized_cam(cam) * labels.to(cam.dtype)[..., None, None]  # (N, C, H, W)
    background = 1 - scores.amax(1, keepdim=True)
    weights = torch.cat([background, scores], 1).transpose(0, 1).flatten(1)  # (C + 1, N*H*W)
    e = F.normalize(embeddings, dim=1).permute(0, 2, 3, 1).reshape(-1, d)  # (N*H*W, D)
    k = max(1, int(weights.shape[1] * top_fraction))
    top, idx = weights.topk(k, dim=1)  # (C + 1, k)
    protos = (top[..., None] * e[idx]).sum(1) / top.sum(1, keepdim=True).clamp_min(1e-8)
    valid = torch.cat([torch.ones(1, dtype=torch.bool, device=labels.device), labels.any(0)])
    return F.normalize(protos, dim=1), valid & (top.sum(1) > 0)


class PixelPrototype(Method):
    """A CAM classifier trained on image-level labels, plus pixel-to-prototype contrast.

    Args:
        encoder: fully-convolutional, with ``out_dim`` (``models.DenseConvNet``).
        n_classes: C, the number of foreground classes (the labels' width).
        dim: the pixel projection's size.
        gamma: weight of the contrast terms; 0 gives the CAM-only baseline.
        temperature: the NCE temperature (0.1). threshold: the background score of the
            pseudo-labels. noise: std of each view's fresh noise.
        warmup: steps of CAM-only training before the contrast starts (the paper starts from
            an ImageNet-trained classifier whose CAMs are already usable).
        top_fraction: share of the batch's pixels that build each prototype (1/16 in wseg).
    """

    input_kind = "labelled_scenes"

    def __init__(
        self,
        encoder: nn.Module,
        n_classes: int,
        dim: int = 32,
        gamma: float = 0.1,
        temperature: float = 0.1,
        threshold: float = 0.3,
        noise: float = 0.3,
        warmup: int = 0,
        top_fraction: float = 1 / 16,
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.encoder = encoder
        e = encoder.out_dim
        self.classifier = nn.Conv2d(e, n_classes, 1, bias=False)  # the CAM head
        self.projector = nn.Conv2d(e, dim, 1, bias=False)  # linear, as in wseg's proj layer
        self.gamma, self.temperature, self.threshold = gamma, temperature, threshold
        self.noise, self.warmup, self.steps_done = noise, warmup, 0
        self.top_fraction = top_fraction

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, labels = batch[0], batch[1].float()  # (N, C_in, G, G), (N, C) multi-hot
        grid = x.shape[-1]
        v1, _ = random_crop(x, grid, noise=self.noise)  # the whole scene, fresh noise
        v2, _ = random_crop(x, grid, noise=self.noise)
        f = self.encoder(torch.cat([v1, v2]))
        cam = self.classifier(f)  # (2N, C, G, G)
        both = torch.cat([labels, labels])
        loss = F.binary_cross_entropy_with_logits(cam.mean((2, 3)), both)
        if self.gamma == 0 or self.steps_done < self.warmup:
            return loss
        emb = self.projector(f)  # (2N, D, G, G)
        n = len(x)
        cams, embs = cam.detach().split(n), emb.split(n)
        protos = [
            class_prototypes(e.detach(), c, labels, self.top_fraction) for e, c in zip(embs, cams)
        ]
        nce = 0.0
        for a in range(2):
            y = pseudo_labels(cams[a], labels, self.threshold).flatten()  # (N*G*G,)
            e = embs[a].permute(0, 2, 3, 1).reshape(len(y), -1)
            for b in range(2):  # b != a: across views; b == a: within the view
                rho, valid = protos[b]
                ok = valid[y]  # pixels whose class has a prototype in view b
                nce = nce + pixel_prototype_nce(e[ok], y[ok], rho, valid, self.temperature)
        return loss + self.gamma * nce / 2

    def after_step(self, step: int) -> None:
        self.steps_done = step + 1

    @torch.no_grad()
    def cam(self, x: Tensor) -> Tensor:
        """Raw class activation maps ``(N, C, H, W)``."""
        return self.classifier(self.encoder(x))

    @torch.no_grad()
    def segment(self, x: Tensor, labels: Tensor, threshold: float | None = None) -> Tensor:
        """The pseudo-masks ``(N, H, W)`` (0 = background, ``c + 1`` = class c)."""
        t = self.threshold if threshold is None else threshold
        return pseudo_labels(self.cam(x), labels, t)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x).mean((2, 3))

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import DenseConvNet

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 4, 6, 6, generator=g)  # 6x6 part scenes
        labels = (torch.rand(8, 3, generator=g) < 0.5).float()  # which of 3 part types are in
        model = cls(DenseConvNet(4, (8, 8), kernel_size=1), n_classes=3, dim=8)
        return Example(model, (x, labels), x)


METHOD = PixelPrototype
