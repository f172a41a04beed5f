"""What a learned embedding is measured by: geometry on the sphere and downstream probes.

* ``alignment`` / ``uniformity`` — Wang & Isola, ICML 2020.
* ``tolerance`` — Wang & Liu, CVPR 2021 (mean cosine of same-class pairs).
* ``negative_weights`` / ``effective_negatives`` — the Boltzmann weights the contrastive loss
  gives each negative in its gradient, and how many negatives effectively count.
* ``knn_accuracy`` / ``linear_probe_accuracy`` — the usual downstream probes.
* ``effective_rank`` / ``embedding_std`` — collapse indicators.

Everything takes ``(N, D)`` tensors; embeddings are L2-normalised inside where the metric is
defined on the sphere.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .utils import check_labels, check_matrix, check_same_shape, check_temperature

__all__ = [
    "alignment",
    "uniformity",
    "tolerance",
    "negative_weights",
    "effective_negatives",
    "knn_accuracy",
    "linear_probe_accuracy",
    "effective_rank",
    "embedding_std",
]


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> Tensor:
    """Mean distance between positive pairs: ``E ||f(x) - f(y)||^alpha`` (lower = aligned).

    Args:
        z1, z2: ``(N, D)`` embeddings of the two views (normalised inside).
        alpha: the exponent, 2 in the paper.
    """
    check_matrix(z1, "z1")
    check_matrix(z2, "z2")
    check_same_shape(z1, z2, "z1", "z2")
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    d = (F.normalize(z1, dim=1) - F.normalize(z2, dim=1)).norm(dim=1)
    return d.pow(alpha).mean()


def uniformity(z: Tensor, t: float = 2.0) -> Tensor:
    """Log of the mean Gaussian potential over distinct pairs: ``log E exp(-t ||z_i - z_j||^2)``.

    Lower (more negative) is more uniform; papers often report ``-uniformity``. On the sphere
    in high dimension the minimum approaches ``-2t`` (-4 for t=2). Cost is O(N^2 D).

    Args:
        z: ``(N, D)`` embeddings, N >= 2 (normalised inside).
        t: the potential's scale (2 in both papers).
    """
    check_matrix(z, "z", min_rows=2)
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t!r}")
    zn = F.normalize(z.float(), dim=1)
    # ||a - b||^2 = 2 - 2 a.b on the sphere; unlike pdist, its gradient is finite at distance 0
    i, j = torch.triu_indices(len(zn), len(zn), offset=1, device=z.device)
    sq = (2 - 2 * (zn @ zn.T))[i, j]  # (N(N-1)/2,)
    return (torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())).to(z.dtype)


def tolerance(z: Tensor, labels: Tensor) -> Tensor:
    """Mean cosine similarity over pairs of distinct samples with the same label.

    Wang & Liu's tolerance, read as the conditional mean over same-class pairs (their all-pairs
    formula is about 1/C of this; the values they report need the conditional one). Higher
    means semantically similar samples stay close. Computed from per-class sums in O(N D).

    Args:
        z: ``(N, D)`` embeddings (normalised inside). labels: ``(N,)`` integer classes.

    Raises:
        ValueError: if no label occurs twice.
    """
    check_matrix(z, "z", min_rows=2)
    check_labels(labels, z.shape[0])
    zn = F.normalize(z.float(), dim=1)
    classes, index = labels.unique(return_inverse=True)
    sums = torch.zeros(len(classes), z.shape[1], device=z.device).index_add_(0, index, zn)
    counts = torch.bincount(index, minlength=len(classes)).float()
    pair_sum = sums.pow(2).sum() - counts.sum()  # sum_{i != j, same class} z_i . z_j
    n_pairs = (counts * (counts - 1)).sum()
    if n_pairs == 0:
        raise ValueError("labels must repeat: tolerance needs at least one same-class pair")
    return pair_sum / n_pairs


def negative_weights(anchor: Tensor, candidates: Tensor, temperature: float) -> Tensor:
    """The share of the loss gradient each negative receives: ``softmax(s_ij / t)`` over j.

    For InfoNCE, ``dL/ds_ij = P_ij / t`` and the negatives' relative penalties
    ``r_ij = exp(s_ij / t) / sum_k exp(s_ik / t)`` form a Boltzmann distribution (Wang & Liu,
    eq. 4): small ``t`` concentrates it on the hardest negatives.

    Args:
        anchor: ``(D,)`` or ``(A, D)``. candidates: ``(M, D)`` negatives shared by all anchors.
        temperature: ``t > 0``.

    Returns:
        ``(M,)`` or ``(A, M)`` weights summing to 1 along the last axis.
    """
    check_temperature(temperature)
    single = anchor.ndim == 1
    a = anchor[None] if single else anchor
    check_matrix(a, "anchor")
    check_matrix(candidates, "candidates")
    if a.shape[1] != candidates.shape[1]:
        raise ValueError(
            f"anchor and candidates must share the dimension D, got {a.shape[1]} and "
            f"{candidates.shape[1]}"
        )
    sim = F.normalize(a, dim=1) @ F.normalize(candidates, dim=1).T  # (A, M)
    w = (sim / temperature).softmax(dim=1)
    return w[0] if single else w


def effective_negatives(weights: Tensor) -> Tensor:
    """``exp(entropy)`` of negative weights: 1 when one negative takes all, M when all equal."""
    w = weights.clamp_min(1e-30)
    return torch.exp(-(w * w.log()).sum(dim=-1))


@torch.no_grad()
def knn_accuracy(
    train_z: Tensor,
    train_y: Tensor,
    test_z: Tensor,
    test_y: Tensor,
    k: int = 20,
    chunk: int = 1024,
) -> float:
    """Accuracy of a cosine k-nearest-neighbour majority vote (ties go to the nearer class).

    Args:
        train_z: ``(N, D)`` reference embeddings with labels ``train_y (N,)``.
        test_z: ``(M, D)`` queries with labels ``test_y (M,)``.
        k: neighbours per query (clipped to N).
        chunk: queries per block, bounding memory at ``chunk x N``.
    """
    check_matrix(train_z, "train_z")
    check_matrix(test_z, "test_z")
    check_labels(train_y, train_z.shape[0], "train_y")
    check_labels(test_y, test_z.shape[0], "test_y")
    if train_z.shape[1] != test_z.shape[1]:
        raise ValueError(
            f"train_z and test_z must share D, got {train_z.shape[1]} and {test_z.shape[1]}"
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, train_z.shape[0])
    a = F.normalize(train_z.float(), dim=1)
    train_y = train_y.to(a.device)
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    correct = 0
    for start in range(0, test_z.shape[0], chunk):
        q = F.normalize(test_z[start : start + chunk].float().to(a.device), dim=1)
        sim, idx = (q @ a.T).topk(k, dim=1)  # (B, k)
        votes = F.one_hot(train_y[idx], n_classes).float()  # (B, k, C)
        # a tiny similarity-weighted bonus only breaks ties between equal vote counts
        score = votes.sum(1) + 1e-3 * (votes * sim[..., None]).sum(1)
        pred = score.argmax(dim=1).cpu()
        correct += int((pred == test_y[start : start + chunk].cpu()).sum())
    return correct / test_z.shape[0]


def linear_probe_accuracy(
    train_z: Tensor,
    train_y: Tensor,
    test_z: Tensor,
    test_y: Tensor,
    l2: float = 1e-3,
    max_iter: int = 50,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardised, frozen features.

    Full-batch L-BFGS in torch (deterministic on CPU, fast on any device): scikit-learn's
    solver takes minutes on raw pixels, which a 45-second notebook cannot afford.

    Args:
        l2: weight of the L2 penalty on the weights (mean squared weight).
        max_iter: L-BFGS iterations.
    """
    check_matrix(train_z, "train_z")
    check_matrix(test_z, "test_z")
    check_labels(train_y, train_z.shape[0], "train_y")
    check_labels(test_y, test_z.shape[0], "test_y")
    xtr = train_z.detach().float()
    mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr = (xtr - mean) / std
    xte = (test_z.detach().float().to(xtr.device) - mean) / std
    ytr = train_y.to(xtr.device)
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    linear = torch.nn.Linear(xtr.shape[1], n_classes).to(xtr.device)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(
        linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(xtr), ytr) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        pred = linear(xte).argmax(1).cpu()
    return float((pred == test_y.cpu()).float().mean())


def effective_rank(z: Tensor) -> float:
    """``exp(entropy)`` of the normalised singular values of the centred embeddings.

    Roy & Vetterli 2007. D for isotropic embeddings, 1 for a line, near 1 for collapse.
    """
    check_matrix(z, "z", min_rows=2)
    z = z.detach().float()  # a measurement, not a loss: no graph
    zc = z - z.mean(dim=0)
    s = torch.linalg.svdvals(zc)
    if float(s.sum()) == 0.0:
        return 1.0
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def embedding_std(z: Tensor) -> float:
    """Mean per-dimension std of L2-normalised embeddings (SimSiam's collapse indicator).

    About ``1 / sqrt(D)`` for embeddings spread over the sphere, 0 for complete collapse.
    """
    check_matrix(z, "z", min_rows=2)
    return float(F.normalize(z.detach().float(), dim=1).std(dim=0).mean())
