"""BYOL and SimSiam: learning without negatives, and what stops the embedding from collapsing.

References: Jean-Bastien Grill, Florian Strub, Florent Altché, Corentin Tallec, Pierre H.
Richemond, Elena Buchatskaya, Carl Doersch, Bernardo Avila Pires, Zhaohan Daniel Guo, Mohammad
Gheshlaghi Azar, Bilal Piot, Koray Kavukcuoglu, Rémi Munos, Michal Valko, "Bootstrap Your Own
Latent: A New Approach to Self-Supervised Learning", NeurIPS 2020,
https://arxiv.org/abs/2006.07733; Xinlei Chen, Kaiming He, "Exploring Simple Siamese
Representation Learning", CVPR 2021, https://arxiv.org/abs/2011.10566.

    v1, v2 = aug(x), aug(x)                 two views of every image
    z = g(f(v))                             online encoder f + projector g
    p = q(z)                                predictor q (a small MLP), online branch only
    SimSiam:  t = sg(z)                     the target is the *same* network, gradient stopped
    BYOL:     t = g'(f'(v))                 the target is an EMA copy of f, g (never trained)
    loss = 1/2 D(p1, t2) + 1/2 D(p2, t1),   D(p, t) = -cos(p, t)

There are no negatives: nothing in the loss pushes two different images apart, so the constant
embedding is a perfect minimiser. What avoids it in practice is the asymmetry between the two
branches: the predictor and the stop-gradient (SimSiam), plus the slow EMA target (BYOL).
Remove the stop-gradient or the predictor and the embedding collapses; the flags
``stop_gradient`` and ``predictor`` are those ablations. ``metrics.embedding_std`` (SimSiam's
indicator, ~1/sqrt(D) healthy, 0 collapsed) and ``metrics.effective_rank`` measure it. Not
collapsed is not the same as learning: in the notebook's quick budget (200 steps, the generic
``"simclr"`` augmentation) SimSiam and BYOL keep a spread-out embedding but reach only 0.11-0.16
kNN on ``shapes`` (seeds 0-2), near chance and below raw pixels and an untrained encoder.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50, 2-layer projector and predictor of
width 64/32 instead of 3-layer 2048 / 2-layer 512 (BYOL: 4096/256), batch 128-256, a few hundred
Adam steps instead of SGD/LARS for 100-1000 epochs, a constant EMA momentum (BYOL anneals
0.996 -> 1), and no BatchNorm on the projector's output (see ``output_bn``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..blocks import MomentumEncoder
from ..losses import negative_cosine
from ..models import projection_head
from .base import TwoViewMethod, images

VARIANTS = ("simsiam", "byol")


class BYOLSimSiam(TwoViewMethod):
    """SimSiam (``variant="simsiam"``) or BYOL (``variant="byol"``), with the collapse ablations.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        variant: ``"simsiam"`` (target = online branch, gradient stopped) or ``"byol"`` (target
            = momentum copy of encoder + projector).
        proj_dim: output size of the projector (and of the predictor).
        pred_hidden: the predictor's hidden width; both papers use a bottleneck (proj_dim / 4
            in SimSiam), default ``proj_dim // 2``.
        stop_gradient: SimSiam only; ``False`` lets gradients flow into the target branch
            (the ablation that collapses within a few steps in the paper).
        predictor: ``False`` drops the predictor (``p = z``), the other collapsing ablation.
        momentum: BYOL's EMA coefficient ``m`` (0.99 here; the paper starts at 0.996).
        output_bn: end the projector with BatchNorm, as SimSiam's paper does (BYOL's does
            not). Off by default here: in a few hundred Adam steps that BN's scale cannot
            shrink to zero, so the ablations collapse onto a *line* (``z = s * u``) instead
            of a point, which ``embedding_std`` cannot see (``effective_rank`` can). SimSiam's
            BN study (sec. 4.4) trains it with BN on the hidden layer only, as here.
        augment: an ``AugmentConfig`` or preset name for the views.

    ``TwoViewMethod`` gives it the encoder, the projector, the augmentation and ``embed``;
    ``loss`` is its own, since BYOL's target network needs the views themselves.

    Raises:
        ValueError: for an unknown variant, or ``stop_gradient=False`` with BYOL (its target is
            an EMA copy that gradients never reach, so the flag would silently do nothing).

    Example:
        >>> simsiam = BYOLSimSiam(SmallConvNet())                       # the paper's SimSiam
        >>> collapsing = BYOLSimSiam(SmallConvNet(), stop_gradient=False)  # its ablation
        >>> byol = BYOLSimSiam(SmallConvNet(), variant="byol", momentum=0.99)
        >>> hist = ck.fit(byol, shapes.x, steps=300, batch_size=128)   # after_step moves the EMA
    """

    def __init__(
        self,
        encoder: nn.Module,
        variant: str = "simsiam",
        proj_dim: int = 64,
        pred_hidden: int | None = None,
        stop_gradient: bool = True,
        predictor: bool = True,
        momentum: float = 0.99,
        output_bn: bool = False,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if variant == "byol" and not stop_gradient:
            raise ValueError(
                "stop_gradient=False only applies to variant='simsiam': BYOL's target is a "
                "momentum copy that gradients never reach (use momentum=0 for a plain copy)"
            )
        super().__init__(encoder, proj_dim, augment)
        self.variant = variant
        self.stop_gradient = stop_gradient
        if output_bn:
            self.projector.append(nn.BatchNorm1d(proj_dim))
        if predictor:
            self.predictor = projection_head(
                proj_dim, hidden=pred_hidden or proj_dim // 2, out_dim=proj_dim
            )
        else:
            self.predictor = nn.Identity()
        self.target = MomentumEncoder(self.online, momentum) if variant == "byol" else None

    @property
    def online(self) -> nn.Sequential:
        """The trained path, encoder then projector (what BYOL's target network tracks)."""
        return nn.Sequential(self.encoder, self.projector)

    def project(self, x: Tensor) -> Tensor:
        """The projector's output ``z`` (where the papers measure collapse)."""
        return self.projector(self.encoder(x))

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        v1, v2 = views(x, 2, self.augment)
        v = torch.cat([v1, v2])  # one pass over both views: shared BN statistics
        z = self.project(v)  # (2N, proj_dim)
        p1, p2 = self.predictor(z).chunk(2)  # (N, proj_dim) each
        t1, t2 = (self.target(v) if self.target is not None else z).chunk(2)
        # each view predicts the *other* view's target; the target side gets no gradient
        # (always for BYOL, whose target is under no_grad; for SimSiam unless ablated)
        sg = self.stop_gradient
        return 0.5 * negative_cosine(p1, t2, sg) + 0.5 * negative_cosine(p2, t1, sg)

    def after_step(self, step: int) -> None:
        """BYOL: move the target network one EMA step towards the online network."""
        if self.target is not None:
            self.target.update(self.online)


METHOD = BYOLSimSiam
