"""What a learned embedding is measured by: geometry on the sphere and downstream probes.

* ``alignment`` / ``uniformity`` — Wang & Isola, ICML 2020.
* ``tolerance`` — Wang & Liu, CVPR 2021 (mean cosine of same-class pairs).
* ``negative_weights`` / ``effective_negatives`` — the Boltzmann weights the contrastive loss
  gives each negative in its gradient, and how many negatives effectively count.
* ``knn_accuracy`` / ``linear_probe_accuracy`` / ``fit_linear_probe`` — the usual downstream
  probes (run on a model by :mod:`contrastkit.evaluation`).
* ``effective_rank`` / ``embedding_std`` — collapse indicators.
* ``recall_at_k`` / ``retrieval_recall`` — cross-modal retrieval (query x gallery scores).
* ``cluster_accuracy`` / ``dense_miou`` — clusters (image- or pixel-level) against classes.

Everything takes ``(N, D)`` tensors; embeddings are L2-normalised inside where the metric is
defined on the sphere.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
    "fit_linear_probe",
    "effective_rank",
    "embedding_std",
    "cluster_accuracy",
    "recall_at_k",
    "retrieval_recall",
    "dense_miou",
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


def fit_linear_probe(
    train_z: Tensor,
    train_y: Tensor,
    l2: float = 1e-3,
    max_iter: int = 50,
    n_classes: int | None = None,
) -> Callable[[Tensor], Tensor]:
    """Fit a multinomial logistic regression on standardised, frozen features; return it.

    Full-batch L-BFGS in torch (deterministic on CPU, fast on any device): scikit-learn's
    solver takes minutes on raw pixels, which a 45-second notebook cannot afford.

    Args:
        train_z: features (N, D); train_y: integer labels (N,).
        l2: weight of the L2 penalty on the weights (mean squared weight).
        max_iter: L-BFGS iterations.
        n_classes: number of classes; default ``max(train_y) + 1``.

    Returns:
        ``predict(z) -> classes``: standardises ``z`` (N', D) with the training statistics and
        returns the predicted class of each row, on ``z``'s device.

    Example:
        >>> predict = fit_linear_probe(z_train, y_train)
        >>> accuracy = (predict(z_test).cpu() == y_test).float().mean()
    """
    check_matrix(train_z, "train_z")
    check_labels(train_y, train_z.shape[0], "train_y")
    xtr = train_z.detach().float()
    mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr = (xtr - mean) / std
    ytr = train_y.to(xtr.device)
    n_classes = int(train_y.max()) + 1 if n_classes is None else n_classes
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

    @torch.no_grad()
    def predict(z: Tensor) -> Tensor:
        return linear((z.detach().float().to(mean.device) - mean) / std).argmax(1)

    return predict


def linear_probe_accuracy(
    train_z: Tensor,
    train_y: Tensor,
    test_z: Tensor,
    test_y: Tensor,
    l2: float = 1e-3,
    max_iter: int = 50,
) -> float:
    """Test accuracy of :func:`fit_linear_probe` (logistic regression on frozen features).

    Args:
        l2: weight of the L2 penalty on the weights (mean squared weight).
        max_iter: L-BFGS iterations.
    """
    check_matrix(train_z, "train_z")
    check_matrix(test_z, "test_z")
    check_labels(train_y, train_z.shape[0], "train_y")
    check_labels(test_y, test_z.shape[0], "test_y")
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    predict = fit_linear_probe(train_z, train_y, l2, max_iter, n_classes)
    pred = predict(test_z).cpu()
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


def cluster_accuracy(y_true: Tensor, y_pred: Tensor) -> tuple[float, dict[int, int]]:
    """Clustering accuracy: accuracy under the best one-to-one matching of cluster ids to
    classes (Hungarian, scipy's ``linear_sum_assignment``), the usual metric of deep clustering
    and category discovery.

    Clusters and classes may differ in number: unmatched clusters count as errors.

    Raises:
        ValueError: ``y_true`` and ``y_pred`` of different or empty shapes, or negative ids.

    Returns:
        ``(accuracy, mapping)``: mapping from cluster id to the class it was matched with.
    """
    from scipy.optimize import linear_sum_assignment

    y_true = torch.as_tensor(y_true).flatten().cpu().long()
    y_pred = torch.as_tensor(y_pred).flatten().cpu().long()
    if y_true.shape != y_pred.shape or y_true.numel() == 0:
        raise ValueError(
            f"y_true and y_pred must be equal, non-empty (N,), got "
            f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}"
        )
    if (y_true < 0).any() or (y_pred < 0).any():
        raise ValueError("labels and cluster ids must be >= 0")
    _, pred = torch.unique(y_pred, return_inverse=True)  # compact cluster ids
    ids = torch.unique(y_pred)
    n_c, n_y = int(pred.max()) + 1, int(y_true.max()) + 1
    counts = torch.zeros(n_c, n_y, dtype=torch.long)
    counts.index_put_((pred, y_true), torch.ones_like(pred), accumulate=True)
    rows, cols = linear_sum_assignment(-counts.numpy())
    acc = float(counts[rows, cols].sum()) / y_true.numel()
    return acc, {int(ids[r]): int(c) for r, c in zip(rows, cols)}


def recall_at_k(scores: Tensor, k: int = 1, relevant: Tensor | None = None) -> float:
    """Recall@k of a query x gallery score matrix: the share of queries (rows) with a relevant
    gallery item (column) among their ``k`` best.

    Args:
        scores: ``(Q, G)`` similarities, higher = better.
        k: how many of the best-scoring gallery items count (>= 1).
        relevant: ``(Q, G)`` bool, which items are right for each query (several when, e.g., a
            caption fits several clips); default: the diagonal of a square ``scores`` (row i
            matches column i).

    A query's rank is the number of *irrelevant* items scoring strictly above its best relevant
    one, so exact ties count in the query's favour: identical captions, which no model can tell
    apart, do not cost recall. (A collapsed model whose scores all tie scores 1: compare with a
    baseline.)

    Raises:
        ValueError: ``scores`` not 2-D, a non-square ``scores`` without ``relevant``, a
            ``relevant`` of another shape, or ``k < 1``.

    Example:
        >>> recall_at_k(torch.eye(3))
        1.0
    """
    if not isinstance(scores, Tensor) or scores.ndim != 2:
        raise ValueError(
            f"scores must be a 2-D (Q, G) tensor, got {getattr(scores, 'shape', scores)}"
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if relevant is None:
        if scores.shape[0] != scores.shape[1]:
            raise ValueError(
                "scores must be square (N, N) when relevant is not given, got "
                f"{tuple(scores.shape)}"
            )
        relevant = torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    if relevant.shape != scores.shape:
        raise ValueError(
            f"relevant must have the shape of scores {tuple(scores.shape)}, got "
            f"{tuple(relevant.shape)}"
        )
    scores = scores.detach().float()
    relevant = relevant.to(device=scores.device, dtype=torch.bool)
    best = scores.masked_fill(~relevant, float("-inf")).max(dim=1, keepdim=True).values  # (Q, 1)
    rank = ((scores > best) & ~relevant).sum(dim=1)  # irrelevant items strictly better
    return float((rank < k).float().mean())


def retrieval_recall(
    scores: Tensor, ks: tuple[int, ...] = (1, 5), names: tuple[str, str] = ("q2t", "t2q")
) -> dict[str, float]:
    """Recall@k in both directions of a square score matrix whose row i matches column i.

    Returns ``{f"{names[0]}@{k}", f"{names[1]}@{k}" for k in ks, "mean"}``: rows as queries,
    then columns as queries (``scores.T``), and the mean of them all (see ``recall_at_k``).

    Example:
        >>> retrieval_recall(torch.eye(4), ks=(1,), names=("i2t", "t2i"))
        {'i2t@1': 1.0, 't2i@1': 1.0, 'mean': 1.0}
    """
    out = {}
    for name, s in zip(names, (scores, scores.T)):
        for k in ks:
            out[f"{name}@{k}"] = recall_at_k(s, k)
    out["mean"] = sum(out.values()) / len(out)
    return out


def embedding_std(z: Tensor) -> float:
    """Mean per-dimension std of L2-normalised embeddings (SimSiam's collapse indicator).

    About ``1 / sqrt(D)`` for embeddings spread over the sphere, 0 for complete collapse.
    """
    check_matrix(z, "z", min_rows=2)
    return float(F.normalize(z.detach().float(), dim=1).std(dim=0).mean())


def dense_miou(pred: Tensor, target: Tensor, n_classes: int, match: str = "hungarian") -> float:
    """Mean intersection-over-union of per-pixel labels ``pred`` against ``target``.

    The metric of unsupervised and weakly supervised segmentation. ``pred`` may be cluster ids
    (e.g. the argmax prototype of every pixel) whose numbering means nothing: ``match`` maps
    them to classes first.

    Args:
        pred: ``(...)`` integer labels in ``[0, K)`` (any shape, e.g. ``(N, H, W)``).
        target: integer classes in ``[0, n_classes)``, the shape of ``pred``.
        n_classes: number of true classes C; the mean runs over the classes present in
            ``target``.
        match: ``"none"`` (pred already are classes), ``"hungarian"`` (one-to-one matching of
            clusters to classes that maximises the overlap, scipy's ``linear_sum_assignment``;
            unmatched clusters count as wrong) or ``"majority"`` (each cluster to its most
            frequent class; lenient when K > C).

    Raises:
        ValueError: mismatched shapes, labels out of range, or an unknown ``match``.

    Example:
        >>> dense_miou(torch.tensor([1, 1, 0]), torch.tensor([0, 0, 1]), 2)   # relabelled: 1.0
    """
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("pred and target must be torch.Tensors")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    if pred.is_floating_point() or target.is_floating_point():
        raise ValueError("pred and target must be integer labels")
    if match not in ("none", "hungarian", "majority"):
        raise ValueError(f"match must be 'none', 'hungarian' or 'majority', got {match!r}")
    pred, target = pred.detach().flatten().cpu().long(), target.detach().flatten().cpu().long()
    if target.numel() == 0 or int(target.min()) < 0 or int(target.max()) >= n_classes:
        raise ValueError(f"target must hold classes in [0, n_classes={n_classes})")
    if int(pred.min()) < 0:
        raise ValueError("pred must hold non-negative labels")
    k = max(int(pred.max()) + 1, n_classes)
    counts = torch.bincount(pred * n_classes + target, minlength=k * n_classes)
    counts = counts.reshape(k, n_classes)  # (K, C) pixels of cluster k with class c
    if match == "hungarian":
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-counts.double().numpy())
        to_class = torch.full((k,), -1, dtype=torch.long)  # unmatched clusters: no class
        to_class[torch.as_tensor(rows)] = torch.as_tensor(cols)
    elif match == "majority":
        to_class = counts.argmax(1)
    else:
        to_class = torch.arange(k)
    mapped = to_class[pred]  # (P,) classes, -1 where unmatched
    ious = []
    for c in target.unique().tolist():
        inter = int(((mapped == c) & (target == c)).sum())
        union = int(((mapped == c) | (target == c)).sum())
        ious.append(inter / union)
    return float(sum(ious) / len(ious))
