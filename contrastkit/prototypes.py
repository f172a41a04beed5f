"""Clusters and prototypes, written once: k-means, Sinkhorn-Knopp equipartition, and a layer of
learnable prototype vectors.

Cluster- and prototype-based methods (DeepCluster, SwAV, PCL, MUGS, OBoW, SlotCon, ...) share
three pieces:

* ``kmeans`` — Lloyd's algorithm with k-means++ seeding, batched over independent problems
  ``(B, N, D)``, on the input's device, deterministic for a given ``seed``. ``cosine=True``
  (spherical k-means) clusters directions: points and centroids live on the unit sphere, which
  is where contrastive embeddings live.
* ``sinkhorn`` — SwAV's soft assignment of a batch to prototypes under an equipartition
  constraint (every prototype gets about ``B / K`` samples), so a trivial "everyone in one
  cluster" solution is impossible. Computed in log space: ``exp(score / eps)`` overflows for
  ``eps = 0.01`` and cosines near 1, its logarithm never does.
* ``Prototypes`` — ``K`` learnable unit vectors; ``forward(z)`` gives the cosine of each
  (normalised) embedding with each prototype, divided by a temperature.

Reference for the Sinkhorn step: Caron, Misra, Mairal, Goyal, Bojanowski, Joulin, "Unsupervised
Learning of Visual Features by Contrasting Cluster Assignments" (SwAV), NeurIPS 2020,
https://arxiv.org/abs/2006.09882. k-means++: Arthur, Vassilvitskii, SODA 2007.

Example:
    >>> x = torch.randn(500, 8)
    >>> centroids, labels = kmeans(x, k=10, seed=0)
    >>> q = sinkhorn(F.normalize(x, dim=1) @ centroids.T)   # (500, 10), rows sum to 1
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["kmeans", "sinkhorn", "Prototypes"]


def _check_points(x: Tensor, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must be (N, D) or batched (B, N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ValueError(
            f"{name} must have at least one point and one dimension, got {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; clean the input before clustering")


def _distances(x: Tensor, c: Tensor, cosine: bool) -> Tensor:
    """(B, N, D) points, (B, K, D) centroids -> (B, N, K) distances (1 - cos, or squared L2)."""
    if cosine:
        return 1.0 - x @ c.transpose(1, 2)
    return torch.cdist(x, c).square()


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    # drawn on the CPU and moved: the same seed gives the same numbers on every device
    return torch.rand(shape, generator=generator, dtype=torch.float64).to(device)


def _kmeanspp(x: Tensor, k: int, cosine: bool, generator: torch.Generator) -> Tensor:
    """k-means++ seeding, batched: each next centre is a point drawn with probability
    proportional to its distance to the nearest centre chosen so far."""
    b, n, _ = x.shape
    rows = torch.arange(b, device=x.device)
    first = (_uniform((b,), generator, x.device) * n).long().clamp_max(n - 1)  # (B,)
    centres = [x[rows, first]]  # k tensors of (B, D)
    nearest = _distances(x, centres[0][:, None], cosine).squeeze(2).clamp_min(0)  # (B, N)
    for _ in range(1, k):
        w = nearest.double()
        total = w.sum(1, keepdim=True)
        # all points already coincide with a centre: fall back to uniform draws
        w = torch.where(total > 0, w, torch.ones_like(w))
        cdf = w.cumsum(1) / w.sum(1, keepdim=True)  # (B, N)
        u = _uniform((b, 1), generator, x.device)
        idx = torch.searchsorted(cdf, u).squeeze(1).clamp_max(n - 1)  # (B,)
        centres.append(x[rows, idx])
        d = _distances(x, centres[-1][:, None], cosine).squeeze(2).clamp_min(0)
        nearest = torch.minimum(nearest, d)
    return torch.stack(centres, 1)  # (B, K, D)


def kmeans(
    x: Tensor,
    k: int,
    iters: int = 50,
    seed: int = 0,
    cosine: bool = True,
    init: str | Tensor = "k-means++",
) -> tuple[Tensor, Tensor]:
    """Cluster ``x`` into ``k`` groups with Lloyd's algorithm (batched, on ``x``'s device).

    With ``cosine=True`` (spherical k-means) the points are L2-normalised, the distance is
    ``1 - cos`` and every centroid is the normalised mean of its members. With ``cosine=False``
    it is ordinary k-means on squared Euclidean distance. An emptied cluster is re-seeded with
    the point farthest from its centroid, so all ``k`` centroids stay in use. Iteration stops
    early once no assignment changes.

    Args:
        x: points ``(N, D)``, or ``(B, N, D)`` for ``B`` independent problems clustered at once
            (e.g. the local features of every image of a batch).
        k: number of clusters, ``1 <= k <= N``.
        iters: maximum Lloyd iterations, >= 1 (20-100 typical; most toy problems converge in <10).
        seed: seeds the k-means++ draws; same seed and input, same result (on any device).
        cosine: spherical k-means on the unit sphere (default) or Euclidean k-means.
        init: ``"k-means++"``, ``"random"`` (k distinct points drawn uniformly), or a tensor of
            initial centroids ``(k, D)`` / ``(B, k, D)``.

    Returns:
        ``(centroids, assignments)``: ``(k, D)`` and ``(N,)`` long, or ``(B, k, D)`` and
        ``(B, N)`` for batched input. Centroids are unit vectors when ``cosine=True``.

    Raises:
        TypeError: ``x`` not a floating-point tensor.
        ValueError: ``x`` not 2-D/3-D or not finite, ``k`` outside ``[1, N]``, ``iters < 1``,
            unknown ``init`` or ``init`` of the wrong shape.

    Example:
        >>> centroids, labels = kmeans(torch.randn(200, 4), k=5, seed=0)
        >>> centroids.shape, labels.shape
        (torch.Size([5, 4]), torch.Size([200]))
    """
    _check_points(x)
    n = x.shape[-2]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"k must be an int in [1, N={n}], got {k!r}")
    if isinstance(iters, bool) or not isinstance(iters, numbers.Integral) or iters < 1:
        raise ValueError(f"iters must be an int >= 1, got {iters!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    k, iters, seed = int(k), int(iters), int(seed)
    squeeze = x.ndim == 2
    pts = x.detach()[None] if squeeze else x.detach()  # (B, N, D)
    if cosine:
        pts = F.normalize(pts, dim=-1)
    b, _, d = pts.shape
    generator = torch.Generator().manual_seed(seed)

    if isinstance(init, Tensor):
        c = init.detach().to(device=pts.device, dtype=pts.dtype)
        c = c[None] if c.ndim == 2 else c
        if c.shape != (b, k, d):
            raise ValueError(
                f"init must be ({k}, {d}) or ({b}, {k}, {d}) centroids, got {tuple(init.shape)}"
            )
    elif init == "k-means++":
        c = _kmeanspp(pts, k, cosine, generator)
    elif init == "random":
        keys = _uniform((b, n), generator, pts.device)
        idx = keys.argsort(1)[:, :k]  # (B, k) distinct points
        c = torch.gather(pts, 1, idx[..., None].expand(b, k, d))
    else:
        raise ValueError(f"init must be 'k-means++', 'random' or a centroid tensor, got {init!r}")
    if cosine:
        c = F.normalize(c, dim=-1)

    assign = None
    for _ in range(iters):
        dist = _distances(pts, c, cosine)  # (B, N, K)
        new = dist.argmin(2)  # (B, N)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        onehot = F.one_hot(assign, k).to(pts.dtype)  # (B, N, K)
        counts = onehot.sum(1)  # (B, K)
        sums = onehot.transpose(1, 2) @ pts  # (B, K, D)
        c = torch.where(counts[..., None] > 0, sums / counts.clamp_min(1)[..., None], c)
        if (counts == 0).any():  # rare: re-seed each empty cluster with a far-away point
            own = dist.gather(2, assign[..., None]).squeeze(2)  # (B, N)
            far = own.argsort(1, descending=True)  # (B, N)
            for bi, ki in (counts == 0).nonzero().tolist():
                j = int((counts[bi] == 0).nonzero().flatten().tolist().index(ki))
                c[bi, ki] = pts[bi, far[bi, j]]
        if cosine:
            c = F.normalize(c, dim=-1)
    assign = _distances(pts, c, cosine).argmin(2)
    return (c[0], assign[0]) if squeeze else (c, assign)


def sinkhorn(scores: Tensor, eps: float = 0.05, iters: int = 3) -> Tensor:
    """SwAV's soft equipartitioned assignment of ``B`` samples to ``K`` prototypes.

    Finds ``Q`` close to ``softmax(scores / eps)`` whose columns carry equal mass: the
    Sinkhorn-Knopp iterations alternately rescale the prototypes' columns to sum to ``1/K`` and
    the samples' rows to sum to ``1/B``, starting from ``exp(scores / eps)``; the result is
    multiplied by ``B`` so that each row is a distribution over prototypes::

        log Q <- scores / eps
        repeat iters times:
            log Q <- log Q - logsumexp_over_samples(log Q) - log K      (columns -> 1/K)
            log Q <- log Q - logsumexp_over_prototypes(log Q) - log B   (rows    -> 1/B)
        Q = B * exp(log Q)       rows sum to 1, columns sum to ~B/K

    All in log space (``logsumexp``), so ``eps = 0.01`` with cosines of 1 does not overflow.
    Targets should carry no gradient: call it under ``torch.no_grad()`` (as SwAV does) or
    detach the result.

    Args:
        scores: ``(B, K)`` similarities of samples to prototypes (cosines, typically), or
            ``(..., B, K)`` for independent problems along leading dimensions.
        eps: entropic regularisation ``> 0``; 0.05 typical. Smaller gives harder assignments.
        iters: Sinkhorn-Knopp iterations, >= 1 (SwAV uses 3; more gives exact equipartition).

    Returns:
        ``Q`` with the shape of ``scores`` (float32 or wider): rows sum to 1, columns to about
        ``B / K``.

    Raises:
        TypeError: ``scores`` not a floating-point tensor.
        ValueError: ``scores`` below 2-D, empty or not finite; ``eps <= 0``; ``iters < 1``.

    Example:
        >>> q = sinkhorn(torch.randn(64, 10), eps=0.05)
        >>> q.sum(1)[:3], q.sum(0)[:3]   # ~ (1, 1, 1) and ~ (6.4, 6.4, 6.4)
    """
    if not isinstance(scores, Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim < 2 or scores.shape[-1] < 1 or scores.shape[-2] < 1:
        raise ValueError(f"scores must be (B, K) with B, K >= 1, got shape {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    if not torch.isfinite(scores).all():
        raise ValueError("scores contains NaN or inf")
    if isinstance(eps, Tensor) or not (
        isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0
    ):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if isinstance(iters, bool) or not isinstance(iters, numbers.Integral) or iters < 1:
        raise ValueError(f"iters must be an int >= 1, got {iters!r}")
    b, k = scores.shape[-2], scores.shape[-1]
    log_q = scores.to(torch.promote_types(scores.dtype, torch.float32)) / eps  # (..., B, K)
    for _ in range(iters):
        log_q = log_q - torch.logsumexp(log_q, dim=-2, keepdim=True) - math.log(k)
        log_q = log_q - torch.logsumexp(log_q, dim=-1, keepdim=True) - math.log(b)
    return torch.exp(log_q + math.log(b))


class Prototypes(nn.Module):
    """``K`` learnable prototype vectors on the unit sphere; ``forward`` scores embeddings.

    ``forward(z) = normalize(z) @ normalize(C).T / temperature``: the cosine of each embedding
    with each prototype. Gradients reach the prototypes (they are learned with the encoder, as
    in SwAV); the weight is normalised inside ``forward``, and ``normalize_()`` also renormalises
    it in place (SwAV does so after every step so the stored vectors stay on the sphere).

    Args:
        dim: embedding dimension D. k: number of prototypes K.
        temperature: divides the cosines; 1.0 returns raw cosines (what ``sinkhorn`` expects),
            0.1 gives logits for a softmax over prototypes.

    Example:
        >>> protos = Prototypes(dim=32, k=10)
        >>> protos(torch.randn(8, 32)).shape
        torch.Size([8, 10])
    """

    def __init__(self, dim: int, k: int, temperature: float = 1.0) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {dim!r}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        if not (
            isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0
        ):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        self.temperature = float(temperature)
        self.weight = nn.Parameter(F.normalize(torch.randn(k, dim), dim=1))

    @property
    def k(self) -> int:
        return self.weight.shape[0]

    def forward(self, z: Tensor) -> Tensor:
        """``z (..., D)`` -> ``(..., K)`` cosine scores divided by the temperature."""
        if not isinstance(z, Tensor) or z.ndim < 1 or z.shape[-1] != self.weight.shape[1]:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"z must be (..., {self.weight.shape[1]}), got {shape}")
        return F.normalize(z, dim=-1) @ F.normalize(self.weight, dim=1).T / self.temperature

    @torch.no_grad()
    def normalize_(self) -> None:
        """Project the stored prototypes back onto the unit sphere (in place)."""
        self.weight.copy_(F.normalize(self.weight, dim=1))

    @torch.no_grad()
    def init_from(self, centroids: Tensor) -> None:
        """Set the prototypes to given centroids ``(K, D)`` (e.g. from ``kmeans``), normalised."""
        if not isinstance(centroids, Tensor) or centroids.shape != self.weight.shape:
            shape = (
                tuple(centroids.shape)
                if isinstance(centroids, Tensor)
                else type(centroids).__name__
            )
            raise ValueError(f"centroids must be {tuple(self.weight.shape)}, got {shape}")
        self.weight.copy_(F.normalize(centroids.to(self.weight), dim=1))
