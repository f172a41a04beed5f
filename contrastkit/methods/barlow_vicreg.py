"""Barlow Twins and VICReg: learning without negatives by reducing redundancy.

References: Jure Zbontar, Li Jing, Ishan Misra, Yann LeCun, Stéphane Deny, "Barlow Twins:
Self-Supervised Learning via Redundancy Reduction", ICML 2021,
https://arxiv.org/abs/2103.03230; Adrien Bardes, Jean Ponce, Yann LeCun, "VICReg:
Variance-Invariance-Covariance Regularization for Self-Supervised Learning", ICLR 2022,
https://arxiv.org/abs/2105.04906.

    v1, v2 = aug(x), aug(x)            two views of every image
    z = g(f(v))                        encoder f (kept) + projector ("expander") g
    Barlow Twins:  C = corr(z1, z2)    (D, D) cross-correlation over the batch
                   loss = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2
    VICReg:        loss = lambda mse(z1, z2)                     invariance
                        + mu  [v(z1) + v(z2)] / 2                variance: std_j >= 1
                        + nu  [c(z1) + c(z2)]                    covariance: off-diagonals -> 0

No image is ever compared with another image, so there are no negatives. What prevents the
constant embedding is a statistic of each dimension over the batch: Barlow Twins standardises
every dimension (a constant one has correlation 0, the worst invariance), VICReg asks for a
standard deviation of at least gamma. The redundancy / covariance term then spreads the
information over the dimensions instead of copying one feature D times. The loss returns its
terms too, so ``fit`` logs them.

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50; a 2-layer projector 128 -> 128 ->
``proj_dim`` (256; 128 in the notebook) instead of 3 layers of 8192; batch 128-256 instead of
2048; a few hundred Adam steps instead of LARS for 300-1000 epochs. ``lambda_param`` defaults
to the paper's 5e-3 (tuned there for D = 8192); the notebook uses 1/D and shows the trade-off
over a grid of lambdas.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig
from ..losses import barlow_twins_terms, vicreg_terms
from ..models import projection_head
from .base import Example, TwoViewMethod

VARIANTS = ("barlow", "vicreg")


class BarlowVICReg(TwoViewMethod):
    """Barlow Twins (``variant="barlow"``) or VICReg (``variant="vicreg"``) on two views.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        variant: ``"barlow"`` or ``"vicreg"``.
        proj_dim: output size ``D`` of the projector, where the loss acts (both papers find
            that a wide projector helps; 8192 there).
        hidden: the projector's hidden width (default: the encoder's ``out_dim``).
        lambda_param: Barlow Twins' redundancy weight (``None``: the paper's 5e-3); 0 switches
            redundancy reduction off. The off-diagonal has D^2 - D entries against D on the
            diagonal, so the balance of the two terms depends on D.
        inv_weight, var_weight, cov_weight: VICReg's ``lambda``, ``mu``, ``nu`` (``None``: the
            paper's 25, 25, 1); 0 switches a term off.
        augment: an ``AugmentConfig`` or preset name for the views (``"shapes"`` on `shapes`).

    ``loss`` returns ``(loss, terms)``: the unweighted terms as floats (Barlow Twins:
    ``invariance``, ``redundancy``; VICReg: ``invariance``, ``variance``, ``covariance``), which
    ``fit`` logs into ``History.metrics``.

    Raises:
        ValueError: an unknown variant, or a weight given to the other variant.

    Example:
        >>> barlow = BarlowVICReg(SmallConvNet(), "barlow", augment="shapes")
        >>> no_variance = BarlowVICReg(SmallConvNet(), "vicreg", var_weight=0.0)  # collapses
        >>> hist = ck.fit(barlow, shapes.x, steps=300, batch_size=128)
    """

    def __init__(
        self,
        encoder: nn.Module,
        variant: str = "barlow",
        proj_dim: int = 256,
        hidden: int | None = None,
        lambda_param: float | None = None,
        inv_weight: float | None = None,
        var_weight: float | None = None,
        cov_weight: float | None = None,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        vicreg = {"invariance": inv_weight, "variance": var_weight, "covariance": cov_weight}
        if variant == "barlow" and any(w is not None for w in vicreg.values()):
            raise ValueError(
                "inv_weight, var_weight and cov_weight are VICReg's: use variant='vicreg' "
                "(Barlow Twins' one weight is lambda_param)"
            )
        if variant == "vicreg" and lambda_param is not None:
            raise ValueError(
                "lambda_param is Barlow Twins': VICReg's weights are inv_weight, var_weight "
                "and cov_weight"
            )
        super().__init__(encoder, proj_dim, augment)
        if hidden is not None:
            self.projector = projection_head(encoder.out_dim, hidden, proj_dim)
        self.variant = variant
        if variant == "barlow":
            lam = 5e-3 if lambda_param is None else lambda_param
            self.weights = {"invariance": 1.0, "redundancy": float(lam)}
        else:
            defaults = {"invariance": 25.0, "variance": 25.0, "covariance": 1.0}
            self.weights = {k: float(defaults[k] if w is None else w) for k, w in vicreg.items()}
        for name, w in self.weights.items():
            if w < 0:
                raise ValueError(f"the {name} weight must be >= 0, got {w}")

    def project(self, x: Tensor) -> Tensor:
        """The projector's output ``z`` (where the loss acts and collapse is measured)."""
        return self.projector(self.encoder(x))

    def pair_loss(self, z1: Tensor, z2: Tensor) -> tuple[Tensor, dict[str, float]]:
        # z1, z2: (N, D), the projections of two views of the same N images
        if self.variant == "barlow":
            terms = barlow_twins_terms(z1, z2)
        else:
            terms = vicreg_terms(z1, z2)
        loss = sum(self.weights[name] * term for name, term in terms.items())
        return loss, {name: float(term.detach()) for name, term in terms.items()}

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        return Example(cls(SmallConvNet(widths=(8, 16)), proj_dim=16), x, x)


METHOD = BarlowVICReg
