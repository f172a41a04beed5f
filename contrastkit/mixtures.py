"""Semi-supervised Gaussian mixtures that find how many clusters there are: EM with labelled points
pinned to their class, and Dirichlet-process split/merge moves scored by marginal likelihoods.

Written for GPC (Zhao, Wen, Han, "Learning Semi-supervised Gaussian Mixture Models for Generalized
Category Discovery", ICCV 2023, https://arxiv.org/abs/2305.06144), which alternates this fitting
with contrastive training (``contrastkit.methods.gpc``). Beside ``prototypes``: k-means finds K
clusters when K is known; the mixture here decides K.

    log_marginal     log p(X) of one diagonal Gaussian, mean and variance integrated out under a
                     Normal-Gamma prior (the Occam factor of a cluster)
    split_merge      one round of split and merge proposals, accepted when
                         H_split = a * G(N1) L(X1) * G(N2) L(X2) / (G(N) L(X)) > 1   (merge: 1 / H)
    fit_semi_gmm     EM (tied diagonal covariance, labelled points pinned) alternated with
                     split/merge, from ``k_init`` components
    estimate_k       the K it settles on; calibrate_prior_scale picks the prior on labelled data
    ss_kmeans        GCD's semi-supervised k-means (the known-K baseline)

Scaled down from the paper: diagonal covariances, one covariance shared by all components in the
E-step, deterministic acceptance (H > 1) instead of Metropolis-Hastings draws.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .prototypes import kmeans

__all__ = [
    "GaussianMixture",
    "calibrate_prior_scale",
    "estimate_k",
    "fit_semi_gmm",
    "log_marginal",
    "make_prior",
    "pca_features",
    "split_merge",
    "ss_kmeans",
]


def log_marginal(x: Tensor, mu0: Tensor, kappa0: float, alpha0: float, beta0: Tensor) -> Tensor:
    """Log marginal likelihood of points ``x (N, D)`` under one diagonal Gaussian whose mean and
    per-dimension variance are integrated out under a Normal-Gamma prior (float64)::

        kappa_n = kappa0 + N, alpha_n = alpha0 + N / 2
        beta_n  = beta0 + 1/2 sum (x - xbar)^2 + kappa0 N (xbar - mu0)^2 / (2 kappa_n)
        log L   = sum_d [ lgamma(alpha_n) - lgamma(alpha0) + alpha0 log beta0 - alpha_n log beta_n
                          + 1/2 log(kappa0 / kappa_n) - N/2 log(2 pi) ]
    """
    x = x.double()
    n = x.shape[0]
    if n == 0:
        return torch.zeros((), dtype=torch.float64)
    xbar = x.mean(0)
    kn, an = kappa0 + n, alpha0 + n / 2
    bn = beta0 + 0.5 * (x - xbar).square().sum(0) + kappa0 * n * (xbar - mu0).square() / (2 * kn)
    per_dim = (
        math.lgamma(an)
        - math.lgamma(alpha0)
        + alpha0 * beta0.log()
        - an * bn.log()
        + 0.5 * math.log(kappa0 / kn)
        - n / 2 * math.log(2 * math.pi)
    )
    return per_dim.sum()


class GaussianMixture:
    """A diagonal Gaussian mixture: ``means (K, D)``, ``variances (K, D)``, ``weights (K,)``;
    components ``0 .. n_known - 1`` belong to the labelled classes."""

    def __init__(self, means: Tensor, variances: Tensor, weights: Tensor, n_known: int) -> None:
        self.means, self.variances, self.weights, self.n_known = means, variances, weights, n_known

    @property
    def k(self) -> int:
        return self.means.shape[0]

    def log_resp(self, x: Tensor) -> Tensor:
        """``(N, K)`` log posterior of each component for each point."""
        var = self.variances[None]  # (1, K, D)
        ll = -0.5 * ((x[:, None] - self.means[None]).square() / var + var.log()).sum(-1)
        ll = ll + self.weights.clamp_min(1e-12).log()[None]
        return ll - ll.logsumexp(1, keepdim=True)

    def predict(self, x: Tensor) -> Tensor:
        return self.log_resp(x).argmax(1)


def _m_step(x: Tensor, resp: Tensor, var_floor: Tensor, n_known: int) -> GaussianMixture:
    # One diagonal covariance shared by all components for the assignments (a tied mixture):
    # with ~100-300 points per cluster, per-component variances made the E-step unstable and
    # cost 5-10 accuracy points at toy scale. Split/merge still scores every cluster with its
    # own marginal likelihood.
    nk = resp.sum(0) + 1e-9  # (K,)
    means = resp.T @ x / nk[:, None]
    var = resp.T @ x.square() / nk[:, None] - means.square()
    var = (var * nk[:, None]).sum(0, keepdim=True).expand_as(var) / nk.sum()  # tied
    return GaussianMixture(means, var.clamp_min(0) + var_floor, nk / nk.sum(), n_known)


def _responsibilities(gmm: GaussianMixture, x: Tensor, y: Tensor) -> Tensor:
    """Soft assignments; a labelled point (``y >= 0``) is pinned to its class's component."""
    resp = gmm.log_resp(x).exp()
    lab = y >= 0
    if lab.any():
        resp[lab] = F.one_hot(y[lab], gmm.k).to(resp)
    return resp


def _hard(gmm: GaussianMixture, x: Tensor, y: Tensor) -> Tensor:
    z = gmm.predict(x)
    return torch.where(y >= 0, y, z)


def split_merge(
    x: Tensor,
    y: Tensor,
    gmm: GaussianMixture,
    prior: dict,
    alpha: float = 1.0,
    seed: int = 0,
) -> tuple[Tensor, list[str]]:
    """One round of split and merge proposals on hard assignments; returns the new labels
    ``(N,)`` (compact ids, known classes first) and a log of accepted moves.

    * split: each component is cut in two by 2-means on its members (a labelled component
      keeps its labelled points on one side); accepted when ``log H_split > 0``;
    * merge: each component with its nearest other one (never two known classes); accepted
      when ``log H_merge = -log H_split > 0``.
    """
    lm = lambda pts: float(log_marginal(pts, **prior))  # noqa: E731
    z = _hard(gmm, x, y)
    events = []
    labels = z.clone()
    next_id = int(labels.max()) + 1
    for k in range(gmm.k):
        idx = (z == k).nonzero().flatten()
        if idx.numel() < 8:
            continue
        pts = x[idx]
        _, part = kmeans(pts.float(), 2, iters=20, seed=seed, cosine=False)
        if k < gmm.n_known:  # the labelled points define the class: they stay together
            lab = y[idx] >= 0
            if lab.any():
                side = part[lab].mode().values
                part = torch.where(lab, side, part)
            else:
                side = 0
        else:
            side = 0
        a, b = idx[part == side], idx[part != side]
        if min(a.numel(), b.numel()) < 4:
            continue
        log_h = (
            math.log(alpha)
            + math.lgamma(a.numel())
            + lm(x[a])
            + math.lgamma(b.numel())
            + lm(x[b])
            - math.lgamma(idx.numel())
            - lm(pts)
        )
        if log_h > 0:
            labels[b] = next_id
            next_id += 1
            events.append(f"split {k} ({idx.numel()} -> {a.numel()} + {b.numel()})")

    # merges, on the labels after splitting: repeatedly take the best-scoring pair among each
    # cluster and its nearest neighbour, until no merge is accepted
    def merge_score(ci: int, cj: int) -> float:
        xi, xj = x[labels == ci], x[labels == cj]
        log_h_split = (
            math.log(alpha)
            + math.lgamma(len(xi))
            + lm(xi)
            + math.lgamma(len(xj))
            + lm(xj)
            - math.lgamma(len(xi) + len(xj))
            - lm(torch.cat([xi, xj]))
        )
        return -log_h_split

    while True:
        ids = torch.unique(labels)
        if len(ids) < 2:
            break
        means = torch.stack([x[labels == i].mean(0) for i in ids])
        d = torch.cdist(means, means)
        d.fill_diagonal_(float("inf"))
        best, pair = 0.0, None
        for i in range(len(ids)):
            for j in d[i].argsort()[: min(2, len(ids) - 1)].tolist():  # 2 nearest others
                ci, cj = int(ids[i]), int(ids[j])
                if j == i or (ci < gmm.n_known and cj < gmm.n_known):
                    continue
                score = merge_score(ci, cj)
                if score > best:
                    best, pair = score, (min(ci, cj), max(ci, cj))
        if pair is None:
            break
        labels[labels == pair[1]] = pair[0]
        events.append(f"merge {pair[1]} into {pair[0]}")
    # compact ids, known classes keep 0 .. n_known - 1
    old = torch.unique(labels)
    order = torch.cat([old[old < gmm.n_known], old[old >= gmm.n_known]])
    remap = torch.full((int(old.max()) + 1,), -1, dtype=torch.long, device=labels.device)
    remap[order] = torch.arange(len(order), device=labels.device)
    return remap[labels], events


def ss_kmeans(x: Tensor, y: Tensor, k: int, iters: int = 50, seed: int = 0) -> Tensor:
    """GCD's semi-supervised k-means: labelled points (``y >= 0``) stay in their class's cluster
    (ids ``0 .. n_known - 1``, centroids started at the labelled means), the other ``k - n_known``
    centroids start by k-means++ on the unlabelled points; Euclidean distances. Returns ``(N,)``."""
    x = x.float()
    lab = y >= 0
    n_known = int(y[lab].max()) + 1
    if k <= n_known:
        raise ValueError(f"k must exceed the {n_known} known classes, got {k}")
    known_c = torch.stack([x[y == c].mean(0) for c in range(n_known)])
    _, part = kmeans(x[~lab], k - n_known, seed=seed, cosine=False, iters=1)
    new_c = torch.stack([x[~lab][part == j].mean(0) for j in range(k - n_known)])
    c = torch.cat([known_c, new_c])
    assign = None
    for _ in range(iters):
        new = torch.where(lab, y, torch.cdist(x, c).argmin(1))
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        onehot = F.one_hot(assign, k).float()
        counts = onehot.sum(0)
        c = torch.where(counts[:, None] > 0, onehot.T @ x / counts.clamp_min(1)[:, None], c)
    return assign


def make_prior(x: Tensor, y: Tensor, kappa0: float = 1e-4, scale: float = 1.0) -> dict:
    """The Normal-Gamma prior: mean = data mean, prior variance = ``scale`` x the average
    within-class variance of the labelled classes (what a class "looks like")."""
    d = x.shape[1]
    lab = y >= 0
    within = torch.stack([x[y == c].var(0) for c in torch.unique(y[lab])]).mean(0)
    alpha0 = (d + 1) / 2  # ~ GPC's nu = D + 1 degrees of freedom
    return {
        "mu0": x.double().mean(0),
        "kappa0": kappa0,
        "alpha0": alpha0,
        "beta0": (scale * within).double() * alpha0,  # prior mean of the variance ~ scale * within
    }


def calibrate_prior_scale(
    x: Tensor, y: Tensor, scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0), seed: int = 0
) -> tuple[float, dict[float, int]]:
    """Pick the prior's scale on the labelled images alone: hide their labels, run split/merge
    on them from twice the number of known classes, and keep the scale whose estimate is
    closest to the true number of known classes (ties: the smaller scale). No novel-class
    label is used. Returns ``(scale, {scale: estimated K})``."""
    lab = y >= 0
    xl, yl = x[lab].float(), y[lab]
    n_known = int(torch.unique(yl).numel())
    found = {}
    for scale in scales:
        prior = make_prior(xl, yl, scale=scale)
        gmm, _ = fit_semi_gmm(
            xl, torch.full_like(yl, -1), 0, 2 * n_known, rounds=3, seed=seed, prior=prior
        )
        found[scale] = gmm.k
    best = min(scales, key=lambda s: (abs(found[s] - n_known), s))
    return best, found


def fit_semi_gmm(
    x: Tensor,
    y: Tensor,
    n_known: int,
    k_init: int,
    rounds: int = 5,
    em_iters: int = 10,
    prior_scale: float = 1.0,
    alpha: float = 1.0,
    seed: int = 0,
    prior: dict | None = None,
) -> tuple[GaussianMixture, list[dict]]:
    """Fit the semi-supervised GMM to ``x (N, D)``, labels ``y (N,)`` (-1 = unlabelled, known
    classes ``0 .. n_known - 1``), starting from ``k_init`` components and alternating EM with
    split/merge for ``rounds`` rounds.

    Returns:
        The final mixture and a per-round history ``[{"k": K, "events": [...]}, ...]`` (the
        first entry is the initialisation).
    """
    if k_init <= n_known:
        raise ValueError(f"k_init must exceed n_known={n_known}, got {k_init}")
    x = x.float()
    var_floor = 1e-3 * x.var(0)
    prior = make_prior(x, y, scale=prior_scale) if prior is None else prior
    # init: labelled classes give the known components, k-means on unlabelled the rest
    unl = y < 0
    _, part = kmeans(x[unl], k_init - n_known, seed=seed, cosine=False)
    labels = y.clone()
    labels[unl] = part + n_known
    # an unlabelled point nearer a known class's mean goes to that class initially
    resp = F.one_hot(labels, k_init).float()
    gmm = _m_step(x, resp, var_floor, n_known)
    history = [{"k": gmm.k, "events": [], "labels": _hard(gmm, x, y)}]
    for r in range(rounds):
        for _ in range(em_iters):
            gmm = _m_step(x, _responsibilities(gmm, x, y), var_floor, n_known)
        labels, events = split_merge(x, y, gmm, prior, alpha=alpha, seed=seed + r)
        resp = F.one_hot(labels, int(labels.max()) + 1).float()
        gmm = _m_step(x, resp, var_floor, n_known)
        history.append({"k": gmm.k, "events": events, "labels": labels})
    for _ in range(em_iters):
        gmm = _m_step(x, _responsibilities(gmm, x, y), var_floor, n_known)
    return gmm, history


def pca_features(f: Tensor, dim: int = 16) -> Tensor:
    """The space the mixture lives in: L2-normalised features, centred, projected on their
    top ``dim`` principal directions (deterministic: an SVD, no random sketch)."""
    f = F.normalize(f.detach().float(), dim=1)
    f = f - f.mean(0)
    _, _, vh = torch.linalg.svd(f, full_matrices=False)
    return f @ vh[:dim].T


def estimate_k(
    x: Tensor, y: Tensor, k_init: int, prior_scale: float, rounds: int = 5, seed: int = 0
) -> tuple[int, list[int], Tensor]:
    """What the notebook's prior slider shows: the number of classes split/merge settles on
    from ``k_init`` components, the K after each round, and the final cluster of every point."""
    n_known = int(y[y >= 0].max()) + 1
    gmm, hist = fit_semi_gmm(
        x, y, n_known, k_init, rounds=rounds, prior_scale=prior_scale, seed=seed
    )
    return gmm.k, [h["k"] for h in hist], hist[-1]["labels"]
