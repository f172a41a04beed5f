"""SwAV and DINO: learning from cluster assignments, and the two ways such targets collapse.

References: Mathilde Caron, Ishan Misra, Julien Mairal, Priya Goyal, Piotr Bojanowski, Armand
Joulin, "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments" (SwAV),
NeurIPS 2020, https://arxiv.org/abs/2006.09882; Mathilde Caron, Hugo Touvron, Ishan Misra,
Hervé Jégou, Julien Mairal, Piotr Bojanowski, Armand Joulin, "Emerging Properties in
Self-Supervised Vision Transformers" (DINO), ICCV 2021, https://arxiv.org/abs/2104.14294.

Both score every crop against ``K`` prototypes and ask one crop to predict a *target
distribution over prototypes* computed from another crop of the same image:

    crops   = 2 global crops (full size) + V local crops (small, low resolution)   multi-crop
    s_v     = cos(g(f(crop_v)), c_k)                    (N, K) scores of crop v, K prototypes

    SwAV:   q_g = sinkhorn(s_g, eps)                    code of each *global* crop, balanced so
                                                        every prototype gets ~N/K images
            loss = mean_{g, v != g} CE(q_g, softmax(s_v / t))          swapped prediction

    DINO:   teacher = EMA copy of (f, g, prototypes)    never trained by gradients
            P_t = softmax((s_g^teacher - c) / t_t)      centred (c: running mean of the
                                                        teacher's scores) and sharpened
                                                        (t_t < t_s)
            loss = mean_{g, v != g} CE(P_t(g), softmax(s_v^student / t_s))
            c <- m c + (1 - m) mean_batch(s^teacher)    after every step, with the EMA

Neither has negatives. A network that gives every image the same target solves both tasks,
and each method has a mechanism against it: SwAV's Sinkhorn step *forces* the codes of a batch
to spread evenly over the prototypes; DINO balances two opposite forces. Centring alone
(subtract the mean score) stops one prototype from winning every image but pushes the targets
towards uniform; sharpening alone (a low teacher temperature) stops the uniform target but lets
one prototype win everything. Switch either off (``centring=0`` / ``teacher_temperature =
student_temperature``) and DINO collapses, to one dimension or to uniform.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50 / ViT-S; 2 x 16 px global crops and
2 x 8 px local crops (the papers: 2 x 224 + 6-10 x 96); a 2-layer projector of width 128 and 32
prototypes instead of a 3-layer 2048-wide head and 3,000 (SwAV) or 65,536 (DINO) prototypes;
batch 128-256 and a few hundred Adam steps instead of LARS/AdamW for 100-800 epochs; constant
temperatures and EMA momentum (DINO warms the teacher temperature up and anneals the
momentum to 1); no queue for SwAV's codes and no frozen prototypes in the first epoch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..blocks import MomentumEncoder
from ..losses import centred_distillation, swav_multicrop_loss
from ..models import projection_head
from ..prototypes import Prototypes, sinkhorn
from .base import Example, Method, images

VARIANTS = ("swav", "dino")


def prototype_entropies(probs: Tensor) -> dict[str, float]:
    """How spread a batch's distributions over prototypes are, in nats (a DINO health check).

    Args:
        probs: ``(N, K)`` rows that sum to 1 (targets or predictions over ``K`` prototypes).

    Returns:
        ``{"entropy": mean_i H(p_i)`` (0: every image one-hot; log K: every image uniform),
        ``"marginal_entropy": H(mean_i p_i)`` (0: the same prototype for all images; log K:
        all prototypes used equally), ``"information": marginal_entropy - entropy``, the
        mutual information between image and prototype: near 0 in *both* collapses (one
        prototype for everything, or a uniform target for everything), high when each image
        is confidently assigned and the assignments differ between images.}``
    """
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, K), got {tuple(probs.shape)}")
    p = probs.detach().double()
    h = -(p * p.clamp_min(1e-30).log()).sum(1).mean()
    m = p.mean(0)
    hm = -(m * m.clamp_min(1e-30).log()).sum()
    return {"entropy": float(h), "marginal_entropy": float(hm), "information": float(hm - h)}


def target_rank(probs: Tensor) -> float:
    """Effective rank of the *uncentred* ``(N, K)`` targets: how many distinct distributions.

    ``exp`` of the entropy of the normalised singular values of ``probs`` (Roy & Vetterli
    2007), without the centring of :func:`contrastkit.metrics.effective_rank`: both DINO
    collapses make every row the same (one-hot on one prototype, or uniform), a rank-1 matrix,
    whereas centring would leave only the rows' tiny noise and measure its shape. Between 1
    and ``min(N, K)``; about the number of groups when images are confidently spread over them.
    """
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, K), got {tuple(probs.shape)}")
    sv = torch.linalg.svdvals(probs.detach().double())
    p = sv / sv.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


class Head(nn.Module):
    """Projector then prototypes: ``x -> f(x) -> z = g(f(x)) -> cos(z, c_k)`` (N, K) scores."""

    def __init__(
        self, encoder: nn.Module, proj_dim: int, hidden: int, n_prototypes: int, bn: bool = True
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, hidden=hidden, out_dim=proj_dim, bn=bn)
        self.prototypes = Prototypes(proj_dim, n_prototypes)  # cosines (temperature 1)

    def project(self, x: Tensor) -> Tensor:
        return self.projector(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.prototypes(self.project(x))


class SwAVDINO(Method):
    """SwAV (``variant="swav"``) or DINO (``variant="dino"``) with multi-crop, and DINO's ablations.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        variant: ``"swav"`` (swapped prediction of Sinkhorn codes) or ``"dino"`` (student vs
            momentum teacher, centred and sharpened).
        proj_dim: the projector's output size (the space the prototypes live in).
        hidden: the projector's hidden width.
        n_prototypes: ``K``, the number of prototypes (a few times the number of classes).
        n_local: local crops per image (0 switches multi-crop off: two global crops only).
        local_size: side in pixels of the local crops (default: half the image side).
        local_scale: area fraction of a local crop's box (global crops use the augmentation's
            ``crop_scale``).
        temperature: the prediction softmax's ``t`` (SwAV's ``t``, DINO's student ``t_s``).
        eps, sinkhorn_iters: SwAV's Sinkhorn regularisation and iterations.
        teacher_temperature: DINO's ``t_t``; below ``temperature`` sharpens the targets,
            equal to it switches sharpening off.
        centring: DINO's centring strength: the targets use ``s - centring * c``; 1 is the
            paper, 0 switches centring off.
        center_momentum: ``m`` of the centre's running mean (0.9 in DINO).
        momentum: the teacher's EMA coefficient (DINO anneals 0.996 -> 1; 0.99 here).
        head_bn: BatchNorm in the projector's hidden layer; default as in each paper's code
            (SwAV: yes, DINO: no).
        augment: an ``AugmentConfig`` or preset name for every crop ("shapes" for ``shapes``).

    Raises:
        ValueError: an unknown variant, a negative ``n_local``, non-positive temperatures,
            ``centring`` or momenta outside ``[0, 1]``.

    Example:
        >>> swav = SwAVDINO(SmallConvNet(), variant="swav", augment="shapes")
        >>> dino = SwAVDINO(SmallConvNet(), variant="dino", augment="shapes")
        >>> no_centring = SwAVDINO(SmallConvNet(), variant="dino", centring=0.0)
        >>> hist = ck.fit(dino, shapes.x, steps=300, batch_size=128)  # after_step: EMA, centre
    """

    input_kind = "images"

    def __init__(
        self,
        encoder: nn.Module,
        variant: str = "swav",
        proj_dim: int = 64,
        hidden: int = 128,
        n_prototypes: int = 32,
        n_local: int = 2,
        local_size: int | None = None,
        local_scale: tuple[float, float] = (0.1, 0.4),
        temperature: float = 0.1,
        eps: float = 0.05,
        sinkhorn_iters: int = 3,
        teacher_temperature: float = 0.04,
        centring: float = 1.0,
        center_momentum: float = 0.9,
        momentum: float = 0.99,
        head_bn: bool | None = None,
        augment: AugmentConfig | str = "shapes",
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if isinstance(n_local, bool) or not isinstance(n_local, int) or n_local < 0:
            raise ValueError(f"n_local must be an int >= 0, got {n_local!r}")
        for name, t in (("temperature", temperature), ("teacher_temperature", teacher_temperature)):
            if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {t!r}")
        for name, v in (
            ("centring", centring),
            ("center_momentum", center_momentum),
            ("momentum", momentum),
        ):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        if local_size is not None and local_size < 4:
            raise ValueError(f"local_size must be >= 4 pixels or None, got {local_size!r}")
        self.variant = variant
        bn = True if head_bn is None else bool(head_bn)
        self.student = Head(encoder, proj_dim, hidden, n_prototypes, bn)
        self.teacher = MomentumEncoder(self.student, momentum) if variant == "dino" else None
        self.register_buffer("center", torch.zeros(n_prototypes))
        self.n_local, self.local_size, self.local_scale = n_local, local_size, tuple(local_scale)
        self.temperature, self.eps, self.sinkhorn_iters = temperature, eps, sinkhorn_iters
        self.teacher_temperature = teacher_temperature
        self.centring, self.center_momentum = centring, center_momentum
        self.augment = augment
        self._teacher_mean: Tensor | None = None

    @property
    def encoder(self) -> nn.Module:
        return self.student.encoder

    def crops(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Multi-crop: ``(2N, C, H, W)`` global crops and ``(V N, C, h, h)`` local ones (or None).

        A local crop is an augmented view with a small crop box (``local_scale``), resampled
        to ``local_size`` pixels: less of the image, at a lower resolution, for less compute.
        """
        g = torch.cat([augment(x, self.augment), augment(x, self.augment)])  # [v1; v2]
        if self.n_local == 0:
            return g, None
        size = self.local_size or max(4, x.shape[-1] // 2)
        small = self.local_scale
        loc = torch.cat([augment(x, self.augment, crop_scale=small) for _ in range(self.n_local)])
        loc = F.interpolate(loc, size=(size, size), mode="bilinear", antialias=True)
        return g, loc

    def _scores(self, head: nn.Module, g: Tensor, loc: Tensor | None) -> Tensor:
        # one pass per resolution (shared BN statistics within each); (2 + V, N, K)
        n = g.shape[0] // 2
        s = [head(g)] + ([head(loc)] if loc is not None else [])
        return torch.cat(s).unflatten(0, (-1, n))

    def targets(self, teacher_scores: Tensor) -> Tensor:
        """DINO's targets: ``softmax((s - centring * c) / t_t)`` over the prototypes."""
        c = self.centring * self.center
        return F.softmax((teacher_scores.float() - c) / self.teacher_temperature, dim=-1)

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)  # (N, C, H, W)
        g, loc = self.crops(x)
        if self.variant == "swav":
            s = self._scores(self.student.project, g, loc)  # (2 + V, N, proj_dim)
            loss = swav_multicrop_loss(
                s, self.student.prototypes.weight, n_global=2, temperature=self.temperature,
                eps=self.eps, iters=self.sinkhorn_iters,
            )  # fmt: skip
            with torch.no_grad():
                scores = self.student.prototypes(s[0].detach())
                stats = prototype_entropies(sinkhorn_codes(scores, self.eps, self.sinkhorn_iters))
            return loss, stats
        s = self._scores(self.student, g, loc)  # (2 + V, N, K) student scores
        with torch.no_grad():
            t = self.teacher(g).unflatten(0, (2, -1))  # (2, N, K) teacher scores, globals only
        # every (teacher global i, student crop j != i) pair, stacked row-wise: the mean of
        # centred_distillation over the stack is DINO's mean over pairs
        pairs = [(i, j) for i in range(2) for j in range(s.shape[0]) if j != i]
        student = torch.cat([s[j] for _, j in pairs])
        teacher = torch.cat([t[i] for i, _ in pairs])
        loss = centred_distillation(
            student, teacher, self.centring * self.center, self.temperature,
            self.teacher_temperature,
        )  # fmt: skip
        self._teacher_mean = t.flatten(0, 1).mean(0)
        return loss, prototype_entropies(self.targets(t.flatten(0, 1)))

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """SwAV: renormalise the prototypes. DINO: EMA teacher, then move the centre."""
        if self.variant == "swav":
            self.student.prototypes.normalize_()
            return
        self.teacher.update(self.student)
        if self._teacher_mean is not None:
            m = self.center_momentum
            self.center.mul_(m).add_(self._teacher_mean.to(self.center), alpha=1 - m)
            self._teacher_mean = None

    @torch.no_grad()
    def distributions(self, x: Tensor) -> Tensor:
        """The targets over prototypes for images ``x`` (no augmentation), ``(N, K)``.

        DINO: the teacher's centred, sharpened distribution; SwAV: the Sinkhorn codes of the
        batch. Call it in eval mode (``utils.eval_mode``) to measure collapse.
        """
        if self.variant == "dino":
            return self.targets(self.teacher(x))
        return sinkhorn_codes(self.student(x), self.eps, self.sinkhorn_iters)

    def project(self, x: Tensor) -> Tensor:
        """The projector's output ``z`` (the teacher's for DINO, where its targets come from)."""
        head = self.teacher.target if self.teacher is not None else self.student
        return head.project(x)

    def embed(self, x: Tensor) -> Tensor:
        """The student encoder's output, before the projector."""
        return self.student.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        return Example(cls(SmallConvNet(widths=(8, 16)), variant="dino", n_prototypes=8), x, x)


def sinkhorn_codes(scores: Tensor, eps: float = 0.05, iters: int = 3) -> Tensor:
    """SwAV's codes for ``(N, K)`` cosine scores (``prototypes.sinkhorn``, no gradient)."""
    return sinkhorn(scores.detach(), eps, iters)


METHOD = SwAVDINO
