"""MLCD: cluster discrimination with several pseudo-labels per image.

Reference: Xiang An, Kaicheng Yang, Xiangzi Dai, Ziyong Feng, Jiankang Deng, "Multi-label Cluster
Discrimination for Visual Representation Learning", ECCV 2024, https://arxiv.org/abs/2407.17331
(code: https://github.com/deepglint/unicom).

Cluster discrimination (DeepCluster, UNICOM) clusters the data offline and trains a classifier
on the cluster ids. One id per image is wrong when an image holds several things. MLCD gives each
image its ``k`` closest centres as positive labels and keeps positives and negatives apart:

    offline   c_1..c_K = k-means of off-the-shelf embeddings; P_i = the k centres closest to x_i
    s_ij      = cos(f(x_i), w_j) / t                 w_j: learnable class centres (classifier)
    loss      = log(1 + sum_{j not in P_i} e^{s_ij}) + log(1 + sum_{p in P_i} e^{-s_ip})

(``losses.mlcd_loss``). The single-label baseline is the softmax cross-entropy on the closest
centre only (``k = 1``).

Scaled down: canvases of two handwritten digits side by side (8x16, from scikit-learn's
``digits``) instead of LAION-400M; the "off-the-shelf embedding" is a PCA of the pixels; K = 64
centres instead of 1M, all of them in every step (no partial-FC negative sampling); an MLP
instead of a ViT. ``make_shapes(..., n_objects=2)`` needs >= 32 px for the objects to stay
legible, which costs more than the quick-mode budget allows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..data import load_digits
from ..losses import mlcd_loss
from ..prototypes import Prototypes, kmeans
from .base import Example, Method

__all__ = [
    "MLCD",
    "digit_pairs",
    "pseudo_labels",
    "multilabel_map",
    "topk_indicators",
    "label_informativeness",
]


def digit_pairs(n: int, seed: int = 0, test_fraction: float = 0.25) -> dict[str, Tensor]:
    """Canvases of two random digits side by side, ``(n, 1, 8, 16)`` in [0, 1].

    The digit images are split into train and test pools first (``test_fraction`` of them to
    test), so no test canvas reuses a training digit. Returns ``x_train, x_test`` and for each
    ``multi_hot_*`` ``(n, 10)`` (which digits appear) and ``left_*`` (the left digit's class).
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    digits = load_digits()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(digits.y), generator=g)
    n_test_pool = int(len(perm) * test_fraction)
    pools = {"test": perm[:n_test_pool], "train": perm[n_test_pool:]}
    sizes = {"train": n, "test": max(2, int(n * test_fraction))}
    out = {}
    for split, pool in pools.items():
        pick = pool[torch.randint(0, len(pool), (sizes[split], 2), generator=g)]  # (m, 2)
        x = torch.cat([digits.x[pick[:, 0]], digits.x[pick[:, 1]]], dim=3)  # (m, 1, 8, 16)
        labels = digits.y[pick]  # (m, 2)
        out[f"x_{split}"] = x
        out[f"multi_hot_{split}"] = torch.zeros(len(x), 10).scatter_(1, labels, 1.0)
        out[f"left_{split}"] = labels[:, 0]
    return out


def pseudo_labels(
    features: Tensor, n_clusters: int = 64, k: int = 3, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Offline step: spherical k-means on ``features (N, D)``, then each sample's ``k`` closest
    centres. Returns ``(centroids (K, D), topk (N, k))``, nearest first."""
    if not 1 <= k <= n_clusters:
        raise ValueError(f"k must be in [1, n_clusters={n_clusters}], got {k}")
    centroids, _ = kmeans(features, n_clusters, seed=seed, cosine=True)
    sim = F.normalize(features.float(), dim=1) @ centroids.T  # (N, K)
    return centroids, sim.topk(k, dim=1).indices


def multilabel_map(scores: Tensor, targets: Tensor) -> float:
    """Mean over classes of the average precision of ``scores (N, C)`` for ``targets (N, C)``."""
    from sklearn.metrics import average_precision_score

    return float(
        average_precision_score(targets.cpu().numpy(), scores.cpu().numpy(), average="macro")
    )


def topk_indicators(features: Tensor, centroids: Tensor, k: int) -> Tensor:
    """``(N, K)`` 0/1 rows marking each sample's ``k`` closest centres (cosine)."""
    sim = F.normalize(features.float(), dim=1) @ F.normalize(centroids.float(), dim=1).T
    return torch.zeros_like(sim).scatter_(1, sim.topk(k, dim=1).indices, 1.0)


def label_informativeness(
    train_features: Tensor,
    train_targets: Tensor,
    test_features: Tensor,
    test_targets: Tensor,
    centroids: Tensor,
    k: int,
) -> float:
    """How much the pseudo-labels alone say about the objects present: a logistic regression
    per class from the ``k``-hot label vector to "this class is in the image", scored by mAP on
    the test canvases. (The notebook's slider calls this for each ``k``.)"""
    from sklearn.linear_model import LogisticRegression

    tr = topk_indicators(train_features, centroids, k).cpu().numpy()
    te = topk_indicators(test_features, centroids, k).cpu().numpy()
    scores = torch.zeros(len(te), train_targets.shape[1])
    for c in range(train_targets.shape[1]):
        y = train_targets[:, c].cpu().numpy()
        clf = LogisticRegression(max_iter=500).fit(tr, y)
        scores[:, c] = torch.as_tensor(clf.decision_function(te))
    return multilabel_map(scores, test_targets)


class MLCD(Method):
    """Encoder + ``K`` learnable class centres trained on offline multi-label pseudo-labels.

    The batch is ``(x, index)``: images and their rows in the training set, whose ``k`` labels
    were installed with ``set_labels(topk)``.

    Args:
        encoder: a module with ``out_dim``. n_clusters: K.
        temperature: ``t`` of the scaled cosines.
        single_label: the baseline: softmax cross-entropy on the closest centre only.
        augment: an ``AugmentConfig`` or preset name (one augmented view per step), or None.
    """

    input_kind = "pseudo_labelled_images"

    def __init__(
        self,
        encoder: nn.Module,
        n_clusters: int = 64,
        temperature: float = 0.1,
        single_label: bool = False,
        augment: AugmentConfig | str | None = "digits",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.centres = Prototypes(encoder.out_dim, n_clusters)
        self.temperature = temperature
        self.single_label = single_label
        self.augment = augment
        self.register_buffer("topk", torch.empty(0, 1, dtype=torch.long))

    @torch.no_grad()
    def set_labels(self, topk: Tensor) -> None:
        """Install each training row's positive centres ``(N, k)`` (nearest first)."""
        if topk.ndim != 2 or topk.max() >= self.centres.k:
            raise ValueError(f"topk must be (N, k) ids < {self.centres.k}")
        self.topk = topk.long().to(self.topk.device)

    def loss(self, batch: tuple) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("MLCD needs batches (x, index): fit it on (x, arange(N))")
        if self.topk.numel() == 0:
            raise RuntimeError("call set_labels(topk) before training")
        x, idx = batch[0], batch[1].long()
        if self.augment is not None:
            x = augment(x, self.augment)
        z = self.encoder(x)  # (B, D)
        labels = self.topk[idx]  # (B, k)
        if self.single_label:
            logits = self.centres(z) / self.temperature  # (B, K)
            return F.cross_entropy(logits, labels[:, 0])
        positives = torch.zeros(len(z), self.centres.k, dtype=torch.bool, device=z.device)
        positives.scatter_(1, labels, True)
        return mlcd_loss(z, self.centres.weight, positives, self.temperature)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import MLP

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 1, 8, 16, generator=g)  # two-digit canvases
        model = cls(MLP(128, (32,), 16), n_clusters=6)
        model.set_labels(torch.rand(8, 6, generator=g).argsort(1)[:, :2])  # k = 2 per canvas
        return Example(model, (x, torch.arange(8)), x)


METHOD = MLCD
