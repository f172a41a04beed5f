"""Hallucinator: extra positives made in feature space, added to SimCLR or SimSiam.

Reference: Jing Wu, Jennifer Hobbs, Naira Hovakimyan, "Hallucination Improves the Performance
of Unsupervised Visual Representation Learning", ICCV 2023, https://arxiv.org/abs/2307.12168.

    q, k = z(v1), z(v2)                     two views' embeddings (a query and its key)
    lam ~ U(0, lam_max)                     one draw per sample; lam_max = 0.1 in the paper
    g = (1 + lam) q - lam k                 extrapolate the query a little *away* from its key
    h = G([q || g])                         smooth it with a small MLP G (2D -> D)
    loss = 1/2 base(q, k) + 1/2 base(h, k)  h is one more positive of k, in the base method's loss

``base`` is the wrapped method's own objective: NT-Xent for SimCLR (``h`` is a third view whose
partner is ``k``, with the batch as negatives), the negative cosine for SimSiam / BYOL (``h``
goes through the predictor and must predict ``sg(k)``). Both directions are used (``q`` = view
1 with key view 2, and the other way round). ``G`` trains jointly with the encoder on the same
loss; the key enters the extrapolation without gradient (in MoCo, where the paper starts, the
key comes from the momentum encoder and never has one).

The paper's point: Siamese methods need positives that differ enough; ``h`` is a cheap extra
positive that is *harder* than ``q`` (it starts further from ``k``) yet still close to it. At
toy scale (``notebooks/02_negatives_positives/05_hallucinator.ipynb``) the jointly trained ``G``
learns to undo the extrapolation: its ``h`` end up *closer* to ``k`` than ``q`` is, and the
reported accuracy gain does not appear.

Scaled down: MoCo's queue, shuffle-BN and the paper's 512-1024-wide generators are dropped; the
generator is ``Linear -> BN -> ReLU`` twice then ``Linear``, ``2D -> hidden -> hidden -> D``
(hidden defaults to D). The encoder and training budget are those of the wrapped method.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..distributed import global_nt_xent
from ..losses import negative_cosine
from .base import Example, Method, images
from .byol_simsiam import BYOLSimSiam
from .simclr import SimCLR


def extrapolate(q: Tensor, k: Tensor, lam: Tensor | float) -> Tensor:
    """``g = (1 + lam) q - lam k``: the query moved a fraction ``lam`` of ``q - k`` past itself.

    Args:
        q: queries ``(N, D)``. k: their keys ``(N, D)``. lam: a scalar or ``(N, 1)`` ratios >= 0.
    """
    return q + lam * (q - k)


class PositiveGenerator(nn.Module):
    """The Hallucinator's generator: ``h = G([q || g])`` with ``g = extrapolate(q, k, lam)``.

    ``q`` and ``k`` are L2-normalised first (the paper works on MoCo's unit-norm features), and
    the key is detached.

    Args:
        dim: the embedding dimension D. hidden: the MLP's width (default D).
        max_ratio: ``lam_max``; ``lam ~ U(0, max_ratio)`` per sample (0.1 in the paper).
    """

    def __init__(self, dim: int, hidden: int | None = None, max_ratio: float = 0.1) -> None:
        super().__init__()
        if max_ratio < 0:
            raise ValueError(f"max_ratio must be >= 0, got {max_ratio!r}")
        hidden = hidden or dim
        self.max_ratio = max_ratio
        self.mlp = nn.Sequential(
            nn.Linear(2 * dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, dim),
        )

    def forward(self, q: Tensor, k: Tensor, lam: Tensor | float | None = None) -> Tensor:
        """The hallucinated positives ``h`` ``(N, D)`` of queries ``q`` with keys ``k``.

        ``lam`` fixes the ratio (a scalar or ``(N, 1)``); None draws ``U(0, max_ratio)``.
        """
        q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)  # (N, D) each
        if lam is None:
            lam = self.max_ratio * torch.rand(q.shape[0], 1, device=q.device, dtype=q.dtype)
        g = extrapolate(q, k, lam)  # (N, D)
        return self.mlp(torch.cat([q, g], dim=1))


class Hallucinator(Method):
    """A SimCLR or SimSiam / BYOL method with hallucinated positives added to its loss.

    Args:
        base: the method to extend, a ``SimCLR`` or a ``BYOLSimSiam`` (its encoder, heads,
            augmentations, temperature / predictor / target network are used as they are);
            an encoder (a module with ``out_dim``) is wrapped in ``SimCLR(base)``, which is what
            ``contrastkit train --method hallucinator`` builds.
        max_ratio: ``lam_max`` of the extrapolation (0.1 in the paper; 0 keeps only the MLP).
        hidden: the generator's width (default: the projection dimension).
        weight: how much the hallucinated term counts: ``(1 - w) base(q, k) + w base(h, k)``;
            0.5 (the default) is the paper's equal weighting of ``[q; h]`` against ``[k; k]``,
            0 is the plain base method.
        augment: if given, replaces the base method's augmentations (an ``AugmentConfig`` or a
            preset name).

    Raises:
        TypeError: for a base that is neither SimCLR / BYOLSimSiam nor an encoder.
        ValueError: for a weight outside [0, 1].

    Example:
        >>> plain = SimCLR(SmallConvNet())
        >>> halluc = Hallucinator(SimCLR(SmallConvNet()))           # same loss, extra positives
        >>> simsiam = Hallucinator(BYOLSimSiam(SmallConvNet()))
        >>> hist = ck.fit(halluc, shapes.x, steps=500, batch_size=256)
    """

    def __init__(
        self,
        base: nn.Module,
        max_ratio: float = 0.1,
        hidden: int | None = None,
        weight: float = 0.5,
        augment: AugmentConfig | str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(base, (SimCLR, BYOLSimSiam)) and hasattr(base, "out_dim"):
            base = SimCLR(base)  # an encoder: SimCLR is the paper's simplest host
        if not isinstance(base, (SimCLR, BYOLSimSiam)):
            raise TypeError(
                f"base must be a SimCLR or a BYOLSimSiam method (or an encoder with out_dim), "
                f"got {type(base).__name__}"
            )
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight!r}")
        if augment is not None:
            base.augment = augment
        self.base = base
        self.weight = weight
        dim = [m for m in base.projector if isinstance(m, nn.Linear)][-1].out_features
        self.generator = PositiveGenerator(dim, hidden, max_ratio)

    @property
    def encoder(self) -> nn.Module:
        return self.base.encoder

    def pairs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Queries, keys and hallucinations of two views of ``x``, both directions stacked.

        Returns:
            ``(q, k, h, v)``: ``q = [z1; z2]``, ``k = [k2; k1]`` (each query's key: the other
            view's projection, or BYOL's target), ``h = G(q, k)``, each ``(2N, D)``, and the
            stacked views ``v`` ``(2N, C, H, W)``.
        """
        v1, v2 = views(x, 2, self.base.augment)
        v = torch.cat([v1, v2])  # (2N, C, H, W): one pass, shared BN statistics
        z = self.base.projector(self.base.encoder(v))  # (2N, D)
        target = getattr(self.base, "target", None)
        t = target(v) if target is not None else z  # BYOL: the EMA network's projections
        t1, t2 = t.chunk(2)
        k = torch.cat([t2, t1])  # (2N, D): view 1's key is view 2 and vice versa
        h = self.generator(z, k)  # (2N, D)
        return z, k, h, v

    def loss(self, batch: Tensor | tuple) -> Tensor:
        q, k, h, _ = self.pairs(images(batch))
        n = q.shape[0] // 2
        w = self.weight
        if isinstance(self.base, SimCLR):
            tau = self.base.temperature
            # SimCLR's own NT-Xent on (z1, z2), then on (h1, z2) and (h2, z1): h is one more
            # positive of the key, and the rest of the batch stays the negatives
            plain = global_nt_xent(q[:n], q[n:], tau)
            h1_k, h2_k = global_nt_xent(h[:n], k[:n], tau), global_nt_xent(h[n:], k[n:], tau)
            halluc = 0.5 * (h1_k + h2_k)
        else:
            # SimSiam / BYOL: every query (and hallucination) predicts its key, gradient stopped
            sg = self.base.stop_gradient
            plain = negative_cosine(self.base.predictor(q), k, sg)
            halluc = negative_cosine(self.base.predictor(h), k, sg)
        return (1 - w) * plain + w * halluc

    def after_step(self, step: int) -> None:
        """BYOL's EMA update, when the base method has one."""
        if hasattr(self.base, "after_step"):
            self.base.after_step(step)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the base method's (the encoder's output)."""
        return self.base.embed(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        return Example(cls(SimCLR(SmallConvNet(widths=(8, 16)), proj_dim=16)), x, x)


@torch.no_grad()
def hardness(q: Tensor, k: Tensor, h: Tensor) -> dict[str, float]:
    """Mean cosines to the key: ``{"cos_qk", "cos_hk", "cos_hq"}`` (the paper's intent: hk < qk;
    a jointly trained generator gives hk > qk at toy scale).

    Args:
        q, k, h: ``(N, D)`` queries, their keys and their hallucinations.
    """
    q, k, h = (F.normalize(t.float(), dim=1) for t in (q, k, h))
    return {
        "cos_qk": float((q * k).sum(1).mean()),
        "cos_hk": float((h * k).sum(1).mean()),
        "cos_hq": float((h * q).sum(1).mean()),
    }


METHOD = Hallucinator
