"""GPC: generalized category discovery with a semi-supervised Gaussian mixture that splits and
merges its components to find how many classes there are, and prototypical contrast toward it.

Reference: Bingchen Zhao, Xin Wen, Kai Han, "Learning Semi-supervised Gaussian Mixture Models
for Generalized Category Discovery", ICCV 2023, https://arxiv.org/abs/2305.06144
(code: https://github.com/DTennant/GPC).

The setting (GCD): part of the images carry labels, all from the *known* classes; the rest are
unlabelled and come from the known classes and from *novel* ones, whose number is unknown.
GPC alternates, EM-style:

    E/M  fit a Gaussian mixture to the features; every labelled image is pinned to its class's
         component, the unlabelled ones are assigned softly
    K    propose to split each novel component in two and to merge close pairs; accept when
         the Dirichlet-process Metropolis-Hastings ratio of marginal likelihoods says so:
             H_split = a * G(N1) L(X1) * G(N2) L(X2) / (G(N) L(X))      G: Gamma function,
             H_merge = 1 / H_split                                       L: marginal likelihood
         L(X) integrates the Gaussian's mean and variance out under a conjugate
         Normal-(Inverse-)Gamma prior, so a split must explain the data better by more than
         the Occam factor of an extra cluster
    train  loss = 0.65 * InfoNCE(two views) + 0.35 * SupCon(labelled)
                  + w * CE(z . mu_k / phi_k, cluster of the image)     (prototypical contrast)
         mu_k: the normalised mean embedding of cluster k, phi_k its concentration
         (mean distance to mu_k, as in PCL), rescaled so that the phi's average to tau.

Scaled down: scikit-learn's 8x8 ``digits`` (classes 0-4 known, half of them labelled; 5-9
novel) and an MLP 64-128-32 instead of ImageNet/CUB and a DINO ViT-B (at quick-mode budgets the
``shapes`` features cluster at ~0.35 accuracy, too poor for a clustering claim); diagonal
covariances in a 16-d PCA of the features instead of full ones in 768-d (a
simplification), one covariance shared by all components in the E-step, deterministic
acceptance (H > 1) instead of MH draws with probability 0.1, a handful of EM rounds, and the
prior's variance taken from the labelled classes, at the scale where split/merge recovers the
known classes on the labelled images alone (GPC uses a fixed sigma-scale): the known classes
tell how large a class is, which sets the granularity.

The mixture (E/M and K steps) lives in :mod:`contrastkit.mixtures`; this module wires it to the
encoder (``GPC.set_clusters``) and keeps its names importable.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import nt_xent, supcon
from ..metrics import cluster_accuracy

# the mixture fitting lives in contrastkit.mixtures; these names stay importable from here
from ..mixtures import (  # noqa: F401
    GaussianMixture,
    calibrate_prior_scale,
    estimate_k,
    fit_semi_gmm,
    log_marginal,
    make_prior,
    pca_features,
    split_merge,
    ss_kmeans,
)
from ..models import projection_head
from .base import Example, Method

__all__ = [
    "GPC",
    "GaussianMixture",
    "fit_semi_gmm",
    "estimate_k",
    "pca_features",
    "calibrate_prior_scale",
    "ss_kmeans",
    "log_marginal",
    "split_merge",
    "gcd_accuracy",
    "proto_logits",
]


def gcd_accuracy(y_true: Tensor, y_pred: Tensor, known: Tensor) -> dict[str, float]:
    """GCD's All / Old / New accuracy: one Hungarian matching over all unlabelled images, then
    the accuracy read on the images of known ("old") and of novel ("new") classes separately.

    Args:
        y_true: ``(N,)`` true classes of the unlabelled images. y_pred: ``(N,)`` cluster ids.
        known: ``(N,)`` bool, True where the image's class is a known class.
    """
    acc, mapping = cluster_accuracy(y_true, y_pred)
    y_true = torch.as_tensor(y_true).flatten().cpu().long()
    mapped = torch.tensor([mapping.get(int(c), -1) for c in torch.as_tensor(y_pred).cpu()])
    hit = mapped == y_true
    known = torch.as_tensor(known).flatten().cpu().bool()
    return {
        "all": acc,
        "old": float(hit[known].float().mean()) if known.any() else float("nan"),
        "new": float(hit[~known].float().mean()) if (~known).any() else float("nan"),
    }


# ---------------------------------------------------------------------------------------------
# Prototypical contrast and the method
# ---------------------------------------------------------------------------------------------


def proto_logits(z: Tensor, prototypes: Tensor, phi: Tensor) -> Tensor:
    """``(N, K)`` logits ``cos(z_i, mu_k) / phi_k`` (PCL's per-cluster temperature)."""
    return F.normalize(z, dim=1) @ F.normalize(prototypes, dim=1).T / phi[None]


def prototypes_from(
    z: Tensor, labels: Tensor, tau: float, alpha: float = 10.0
) -> tuple[Tensor, Tensor]:
    """Cluster means ``(K, D)`` of normalised ``z`` and PCL's concentrations ``phi (K,)``
    ``= sum ||z - mu|| / (n log(n + alpha))``, rescaled so that they average to ``tau``."""
    z = F.normalize(z.float(), dim=1)
    k = int(labels.max()) + 1
    onehot = F.one_hot(labels, k).float()  # (N, K)
    n = onehot.sum(0).clamp_min(1)
    mu = onehot.T @ z / n[:, None]
    dist = (z - mu[labels]).norm(dim=1)
    phi = (onehot.T @ dist) / (n * torch.log(n + alpha))
    phi = phi.clamp(min=float(phi[phi > 0].min()) if (phi > 0).any() else 1.0)
    phi = phi.clamp(max=float(np.percentile(phi.cpu().numpy(), 90)))
    return F.normalize(mu, dim=1), tau * phi / phi.mean()


class GPC(Method):
    """GCD's contrastive objective, plus PCL toward the mixture's clusters once they are set.

    The batch is ``(x, y, index)``: images, labels (-1 = unlabelled) and the row of each image
    in the training set (to look up its current cluster). ``set_clusters(labels, z)`` installs
    a round's assignments; without them the loss is the GCD baseline's.

    Args:
        encoder: a module with ``out_dim``. proj_dim: projection size.
        temperature: InfoNCE's and the prototypes' mean temperature; supcon_temperature: SupCon's.
        sup_weight: weight of SupCon (0.35 in GPC), InfoNCE gets ``1 - sup_weight``.
        proto_weight: weight of the prototypical term.
    """

    input_kind = "pseudo_labelled_images"

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        temperature: float = 0.5,
        supcon_temperature: float = 0.1,
        sup_weight: float = 0.35,
        proto_weight: float = 1.0,
        augment: AugmentConfig | str = "shapes",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.temperature = temperature
        self.supcon_temperature = supcon_temperature
        self.sup_weight = sup_weight
        self.proto_weight = proto_weight
        self.augment = augment
        self.register_buffer("cluster", torch.empty(0, dtype=torch.long))
        self.register_buffer("prototypes", torch.empty(0, proj_dim))
        self.register_buffer("phi", torch.empty(0))

    @torch.no_grad()
    def set_clusters(self, labels: Tensor, z: Tensor) -> None:
        """Install cluster ids ``(N,)`` of the training rows and their prototypes, computed
        from the projected embeddings ``z (N, proj_dim)``."""
        self.cluster = labels.long().to(self.phi.device)
        mu, phi = prototypes_from(z.to(self.phi.device), self.cluster, self.temperature)
        self.prototypes, self.phi = mu, phi

    def project(self, x: Tensor) -> Tensor:
        return self.projector(self.encoder(x))

    def loss(self, batch: tuple) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 3:
            raise TypeError("GPC needs batches (x, y, index): fit it on (x, y_masked, arange(N))")
        x, y, idx = batch[0], batch[1].long(), batch[2].long()
        v1, v2 = views(x, 2, self.augment)
        z = self.project(torch.cat([v1, v2]))  # (2N, proj_dim)
        z1, z2 = z.chunk(2)
        loss = (1 - self.sup_weight) * nt_xent(z1, z2, self.temperature)
        lab = y >= 0
        if lab.sum() > 1:
            zl = torch.cat([z1[lab], z2[lab]])
            loss = loss + self.sup_weight * supcon(
                zl, torch.cat([y[lab], y[lab]]), self.supcon_temperature
            )
        if self.cluster.numel() and self.proto_weight > 0:
            target = self.cluster[idx]
            logits = proto_logits(z, self.prototypes, self.phi)  # (2N, K)
            loss = loss + self.proto_weight * F.cross_entropy(logits, torch.cat([target, target]))
        return loss

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        y = torch.tensor([0, 0, 1, 1, -1, -1, -1, -1])  # -1: unlabelled
        model = cls(SmallConvNet(widths=(8, 16)), proj_dim=16)
        with torch.no_grad():
            model.set_clusters(torch.tensor([0, 0, 1, 1, 2, 2, 1, 0]), model.project(x))
        return Example(model, (x, y, torch.arange(8)), x)


METHOD = GPC
