"""SlotCon: pixels grouped by learnable prototypes into slots, slots contrasted across views.

Reference: Xin Wen, Bingchen Zhao, Anlin Zheng, Xiangyu Zhang, Xiaojuan Qi, "Self-Supervised
Visual Representation Learning with Semantic Grouping", NeurIPS 2022,
https://arxiv.org/abs/2205.15288 (code: https://github.com/CVMI-Lab/SlotCon).

A scene holds several objects, so one embedding per image is a poor target. SlotCon learns
``K`` prototypes ``s_k``; every pixel is softly assigned to them, the assignment pools the
pixels into per-image *slots*, and two losses train grouping and features together:

    x_p = g(f(v))_p                            projected feature of pixel p of view v
    A_kp = softmax_k( cos(s_k, x_p) / t_t )    soft assignment of pixel p to prototype k
    slot_k = sum_p A_kp x_p / sum_p A_kp       one slot per prototype and image

    L_group = - sum_p  softmax_k((~cos_kp(v2) - c) / t_t) . log softmax_k(cos_kp(v1) / t_s)
              over the pixels p that both views cover, compared in the image frame;
              ~ is the EMA teacher, c an EMA centre of its scores (DINO-style self-distillation)
    L_slot  = InfoNCE( h(slot_k(v1)), ~slot_k(v2); negatives = every other teacher slot of
              the batch ), only for slots that win >= 1 pixel (argmax) in both views, x 2 t_c
    L = w L_group + (1 - w) L_slot    (both directions v1 <-> v2; w = 0.5)

The teacher (encoder, projector and prototypes) is an EMA of the student; ``h`` is the
student's slot predictor. Both views' score maps are pasted back into the scene's frame
(``paste_crop``, the code's ``invaug``/RoIAlign) before the pixel-wise comparison.

Scaled down: the data are ``make_part_scenes`` grids (each cell a "pixel" holding a part's code
plus noise; part ids give the true segmentation) instead of COCO/ImageNet; a 3-layer stride-1
ConvNet (``DenseConvNet``) instead of ResNet-50's 7x7 output map; views are random crops with
fresh noise (no flips, colour jitter or resized crops: the grid has no colour and one scale);
12-16 prototypes instead of 256-2048; batch 128-256 and Adam for a few hundred steps instead of
LARS for 800 epochs; a fixed teacher momentum instead of the cosine 0.99 -> 1 schedule (the
quick notebook uses 0.9: at 0.99 the teacher barely moves in 300 steps and no groups form).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import MomentumEncoder
from ..data.synthetic import paste_crop, random_crop
from ..losses import centred_distillation, nt_xent, slot_contrast_loss
from ..models import projection_head
from ..prototypes import Prototypes
from .base import Example, Method, images


def slots(features: Tensor, scores: Tensor, temperature: float = 0.07) -> Tensor:
    """Attentive pooling: ``(N, D, H, W)`` features, ``(N, K, H, W)`` cosines -> ``(N, K, D)``."""
    attention = F.softmax(scores / temperature, dim=1) + 1e-6  # (N, K, H, W): pixels -> slots
    attention = attention / attention.sum((2, 3), keepdim=True)
    return torch.einsum("ndhw,nkhw->nkd", features, attention)


def wins(scores: Tensor) -> Tensor:
    """``(N, K, H, W)`` scores -> ``(N, K)`` bool: prototype k is the argmax of some pixel."""
    hit = F.one_hot(scores.argmax(1), scores.shape[1])  # (N, H, W, K)
    return hit.flatten(1, 2).any(1)


class DenseTower(nn.Module):
    """Encoder, a 1x1-conv projector and the prototypes: the part the teacher copies."""

    def __init__(self, encoder: nn.Module, dim: int, n_prototypes: int) -> None:
        super().__init__()
        self.encoder = encoder
        e = encoder.out_dim
        self.projector = nn.Sequential(  # a per-pixel MLP
            nn.Conv2d(e, e, 1), nn.BatchNorm2d(e), nn.ReLU(inplace=True), nn.Conv2d(e, dim, 1)
        )
        self.prototypes = Prototypes(dim, n_prototypes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x (N, C, H, W)`` -> projected features ``(N, D, H, W)``, cosines ``(N, K, H, W)``."""
        z = self.projector(self.encoder(x))
        scores = self.prototypes(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return z, scores


class SlotCon(Method):
    """Semantic grouping (pixels -> prototypes -> slots) and slot contrast across two crops.

    Args:
        encoder: a fully-convolutional encoder with ``out_dim`` (``models.DenseConvNet``).
        dim: projection / prototype dimension. n_prototypes: K.
        crop: side of the square crops (views) of the ``grid x grid`` scenes.
        noise: std of the fresh noise each view gets (``random_crop``).
        group_weight: w in ``w L_group + (1 - w) L_slot`` (0.5 in the paper; 1 = grouping only).
        student_temperature, teacher_temperature, slot_temperature: 0.1, 0.07, 0.2.
        momentum: teacher EMA momentum. center_momentum: EMA of the centre (0.9).
    """

    input_kind = "scenes"

    def __init__(
        self,
        encoder: nn.Module,
        dim: int = 32,
        n_prototypes: int = 16,
        crop: int = 4,
        noise: float = 0.3,
        group_weight: float = 0.5,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.07,
        slot_temperature: float = 0.2,
        momentum: float = 0.99,
        center_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if not 0.0 <= group_weight <= 1.0:
            raise ValueError(f"group_weight must be in [0, 1], got {group_weight!r}")
        self.student = DenseTower(encoder, dim, n_prototypes)
        self.predictor = projection_head(dim, hidden=2 * dim, out_dim=dim)  # slot predictor h
        self.teacher = MomentumEncoder(self.student, momentum)
        self.register_buffer("center", torch.zeros(n_prototypes))
        self.crop, self.noise, self.group_weight = crop, noise, group_weight
        self.t_s, self.t_t, self.t_c = student_temperature, teacher_temperature, slot_temperature
        self.center_momentum = center_momentum

    @property
    def encoder(self) -> nn.Module:
        return self.student.encoder

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, G, G) scenes
        n, grid = len(x), x.shape[-1]
        v1, c1 = random_crop(x, self.crop, noise=self.noise)
        v2, c2 = random_crop(x, self.crop, noise=self.noise)
        z, s = self.student(torch.cat([v1, v2]))  # (2N, D, s, s), (2N, K, s, s)
        with torch.no_grad():
            tz, ts = self.teacher.target(torch.cat([v1, v2]))
        # the pixels both crops cover, compared in the scene's frame
        s1, m1 = paste_crop(s[:n], c1, grid)
        s2, m2 = paste_crop(s[n:], c2, grid)
        t1, _ = paste_crop(ts[:n], c1, grid)
        t2, _ = paste_crop(ts[n:], c2, grid)
        both = m1 & m2  # (N, G, G)

        def pixels(m: Tensor) -> Tensor:  # (N, K, G, G) -> (P, K) at the shared cells
            return m.permute(0, 2, 3, 1)[both]

        loss_group = centred_distillation(pixels(s1), pixels(t2), self.center, self.t_s, self.t_t)
        loss_group = loss_group + centred_distillation(
            pixels(s2), pixels(t1), self.center, self.t_s, self.t_t
        )
        q = self.predictor(slots(z, s, self.t_t).flatten(0, 1)).view(2 * n, -1, z.shape[1])
        k = slots(tz, ts, self.t_t)  # (2N, K, D)
        win = wins(s.detach())
        win_t = wins(ts)
        loss_slot = slot_contrast_loss(q[:n], k[n:], win[:n], win_t[n:], self.t_c)
        loss_slot = loss_slot + slot_contrast_loss(q[n:], k[:n], win[n:], win_t[:n], self.t_c)
        with torch.no_grad():  # DINO's centre: EMA of the teacher's mean score per prototype
            mean = ts.mean((0, 2, 3))
            self.center.mul_(self.center_momentum).add_((1 - self.center_momentum) * mean)
        w = self.group_weight
        return w * loss_group + (1 - w) * loss_slot

    def after_step(self, step: int) -> None:
        self.teacher.update(self.student)

    @torch.no_grad()
    def dense(self, x: Tensor) -> Tensor:
        """Per-pixel features of the student's encoder, ``(N, E, H, W)`` (for dense probes)."""
        return self.student.encoder(x)

    @torch.no_grad()
    def segment(self, x: Tensor) -> Tensor:
        """The teacher's grouping: the argmax prototype of every pixel, ``(N, H, W)``."""
        return self.teacher.target(x)[1].argmax(1)

    def embed(self, x: Tensor) -> Tensor:
        """Image-level representation: the encoder's feature map, averaged over pixels."""
        return self.student.encoder(x).mean((2, 3))

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        return Example(
            cls(_example_encoder(seed), dim=8, n_prototypes=4), *[_example_scenes(seed)] * 2
        )


def _example_encoder(seed: int) -> nn.Module:
    from ..models import DenseConvNet

    torch.manual_seed(seed)
    return DenseConvNet(4, (8, 8))


def _example_scenes(seed: int) -> Tensor:
    """Toy ``(8, 4, 6, 6)`` scenes for the classes' ``example()``."""
    return torch.rand(8, 4, 6, 6, generator=torch.Generator().manual_seed(seed))


class PooledSimCLR(Method):
    """The baseline: image-level SimCLR on the same crops, dense encoder + global average pool.

    ``NT-Xent(g(mean_p f(v1)_p), g(mean_p f(v2)_p))``: one embedding per crop, no grouping.
    """

    input_kind = "scenes"

    def __init__(
        self,
        encoder: nn.Module,
        dim: int = 32,
        crop: int = 4,
        noise: float = 0.3,
        temperature: float = 0.2,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=dim)
        self.crop, self.noise, self.temperature = crop, noise, temperature

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)
        v1, _ = random_crop(x, self.crop, noise=self.noise)
        v2, _ = random_crop(x, self.crop, noise=self.noise)
        h = self.encoder(torch.cat([v1, v2])).mean((2, 3))  # (2N, E)
        z1, z2 = self.projector(h).chunk(2)
        return nt_xent(z1, z2, self.temperature)

    @torch.no_grad()
    def dense(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x).mean((2, 3))

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        x = _example_scenes(seed)
        return Example(cls(_example_encoder(seed), dim=8), x, x)


METHOD = SlotCon
