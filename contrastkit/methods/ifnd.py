"""IFND: find the false negatives by clustering, trusting more clusters as the embedding improves.

Reference: Tsai-Shien Chen, Wei-Chih Hung, Hung-Yu Tseng, Shao-Yi Chien, Ming-Hsuan Yang,
"Incremental False Negative Detection for Contrastive Learning", ICLR 2022,
https://arxiv.org/abs/2106.03719.

    every R steps:   z = g(f(x)) for the whole training set; labels = k-means(z, K)
                     accept the fraction a(t) of samples closest to their centroid (a grows
                     from 0 to a_max over training); the others get no pseudo-label
    FN(i) = { j != i, j not i's other view : i and j accepted and in the same cluster }
    elimination:  l_i = -log( e^{s_ip/t} / (e^{s_ip/t} + sum_{j not in FN(i) + {i, p}} e^{s_ij/t}) )
    attraction:   FN(i) become extra positives (SupCon's loss with the pseudo-labels)

Instance discrimination pushes away every other image, including those of the anchor's own
class ("false negatives"), and that hurts semantic structure. IFND removes the ones it can find.
Early embeddings are poor, so early clusters are not trusted; the trusted fraction grows as
training goes. The paper finds elimination more stable than attraction. At toy scale
(``notebooks/02_negatives_positives/01_ifnd.ipynb``) removing the *true* false negatives (an
oracle) helps, but IFND's detections reach a precision of only about 0.2 against 0.1 for random
pairs: about twice chance, so most of the pairs it removes are still true negatives, and IFND
does not beat SimCLR there.

Scaled down: a 16-32-64-128 ConvNet on 16 px ``shapes`` instead of ResNet-50 on ImageNet; one
k-means granularity (the paper uses several, hierarchical ones); a linear acceptance schedule
(the paper's exact schedule is not reproduced here); re-clustering every few dozen steps
instead of every few epochs. The k-means is ``contrastkit.prototypes.kmeans`` (spherical).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import supcon
from ..models import SmallConvNet, projection_head
from ..prototypes import kmeans
from ..utils import eval_mode
from .base import Example, Method


def accepted_fraction(step: int, total: int, final: float = 1.0, start: float = 0.0) -> float:
    """The share of samples whose pseudo-label is trusted at ``step``: 0 until ``start * total``,
    then rising linearly to ``final`` at ``total``."""
    if total < 1:
        raise ValueError(f"total must be >= 1 step, got {total}")
    if not 0 <= final <= 1 or not 0 <= start < 1:
        raise ValueError(f"final must be in [0, 1] and start in [0, 1), got {final}, {start}")
    progress = (step / total - start) / (1 - start)
    return final * min(1.0, max(0.0, progress))


def pseudo_labels(z: Tensor, k: int, fraction: float, seed: int = 0) -> Tensor:
    """Cluster ``z (N, D)`` into ``k`` groups; keep the ``fraction`` most confident labels.

    Confidence is the cosine to the sample's own centroid; the rest get ``-1`` (no label).

    Returns:
        ``(N,)`` long: a cluster id in ``0..k-1``, or -1.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    centroids, assign = kmeans(z, k, seed=seed, cosine=True)  # (k, D), (N,)
    confidence = (F.normalize(z.float(), dim=1) * centroids[assign]).sum(dim=1)  # (N,)
    n_keep = int(round(fraction * len(z)))
    labels = torch.full_like(assign, -1)
    keep = confidence.argsort(descending=True)[:n_keep]
    labels[keep] = assign[keep]
    return labels


def false_negative_mask(labels: Tensor) -> Tensor:
    """``(N, N)`` bool: ``i != j`` both labelled (``>= 0``) with the same label."""
    same = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0) & (labels[None, :] >= 0)
    return same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)


def nt_xent_without(z1: Tensor, z2: Tensor, labels: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent over ``2N`` views with detected false negatives removed from the denominator.

    ``labels (N,)`` are the images' pseudo-labels (-1: none). Every view of image ``j`` with
    ``j`` in ``FN(i)`` is dropped from anchor ``i``'s candidates; the partner view always stays.
    With no labels (all -1) this is exactly ``losses.nt_xent``.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D)
    logits = z @ z.T / temperature  # (2N, 2N)
    fn = false_negative_mask(labels).repeat(2, 2)  # (2N, 2N): image-level mask, both views
    fn |= torch.eye(2 * n, dtype=torch.bool, device=z.device)  # and self
    logits = logits.masked_fill(fn, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # (2N,)
    return F.cross_entropy(logits, targets)


def detection_quality(labels: Tensor, truth: Tensor) -> dict[str, float]:
    """Precision and recall of the detected false-negative pairs against the true classes.

    A detected pair is two samples labelled with the same cluster; it is right when they share
    the true class. Recall counts the true same-class pairs found. ``chance`` is the precision
    of random pairs (about ``1 / C`` for ``C`` balanced classes).
    """
    labels, truth = labels.cpu(), truth.cpu()
    n_true = int(truth.max()) + 1
    kept = labels >= 0
    joint = torch.bincount(labels[kept] * n_true + truth[kept], minlength=0).double()
    cluster_sizes = torch.bincount(labels[kept]).double()
    class_sizes = torch.bincount(truth, minlength=n_true).double()
    detected = float((cluster_sizes * (cluster_sizes - 1)).sum())
    right = float((joint * (joint - 1)).sum())
    all_true = float((class_sizes * (class_sizes - 1)).sum())
    n = len(truth)
    return {
        "accepted": float(kept.float().mean()),
        "precision": right / detected if detected else float("nan"),
        "recall": right / all_true,
        "chance": all_true / (n * (n - 1)),
    }


class IFND(Method):
    """SimCLR whose detected false negatives are eliminated (or attracted), found by k-means.

    Args:
        encoder: any module with an ``out_dim`` attribute.
        data: the training images ``(N, C, H, W)``, re-embedded and clustered every
            ``recluster_every`` steps. Train with ``fit(model, (data, torch.arange(N)))`` so
            each batch carries its images' indices.
        steps: the training length (the acceptance schedule runs over it).
        n_clusters: k for k-means.
        recluster_every: steps between clusterings.
        final_fraction: share of samples trusted at the end.
        start: share of the training before any label is trusted (then a linear ramp).
        mode: ``"eliminate"`` (drop FN from the denominator) or ``"attract"`` (FN as positives).
        truth: optional true labels ``(N,)``, only to log the detection quality (``self.log``);
            never used by the loss.
        proj_dim, temperature, augment: as in SimCLR.
        seed: seeds each k-means (plus the step, so successive clusterings differ).
    """

    input_kind = "pseudo_labelled_images"  # (images, row ids) into the cluster labels it keeps

    def __init__(
        self,
        encoder: nn.Module,
        data: Tensor,
        steps: int,
        n_clusters: int = 10,
        recluster_every: int = 50,
        final_fraction: float = 1.0,
        start: float = 0.0,
        mode: str = "eliminate",
        truth: Tensor | None = None,
        proj_dim: int = 64,
        temperature: float = 0.5,
        augment: AugmentConfig | str = "simclr",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("eliminate", "attract"):
            raise ValueError(f"mode must be 'eliminate' or 'attract', got {mode!r}")
        if recluster_every < 1:
            raise ValueError(f"recluster_every must be >= 1, got {recluster_every}")
        accepted_fraction(0, steps, final_fraction, start)  # checks the schedule's arguments
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.data, self.truth = data, truth
        self.steps, self.n_clusters, self.every = steps, n_clusters, recluster_every
        self.final_fraction, self.start, self.mode = final_fraction, start, mode
        self.temperature, self.augment, self.seed = temperature, augment, seed
        self.register_buffer("labels", torch.full((len(data),), -1, dtype=torch.long))
        self.log: list[dict[str, float]] = []

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                "IFND needs each image's index: fit(model, (x, torch.arange(len(x)))), "
                "not a bare tensor or an ImageData"
            )
        x, index = batch[0], batch[1]  # (N, C, H, W), (N,)
        v1, v2 = views(x, 2, self.augment)
        z1, z2 = self.projector(self.encoder(torch.cat([v1, v2]))).chunk(2)  # (N, proj_dim) x 2
        labels = self.labels[index.to(self.labels.device)]  # (N,): cluster id or -1
        if self.mode == "attract":
            # unlabelled images get a label of their own: their only positive is the other view
            own = self.n_clusters + torch.arange(len(labels), device=labels.device)
            labels = torch.where(labels >= 0, labels, own)
            return supcon(torch.cat([z1, z2]), torch.cat([labels, labels]), self.temperature)
        return nt_xent_without(z1, z2, labels, self.temperature)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the encoder's output (clustering uses the
        projection, see ``after_step``)."""
        return self.encoder(x)

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """Every ``recluster_every`` steps: re-embed, re-cluster, trust a larger fraction."""
        if (step + 1) % self.every != 0 or step + 1 >= self.steps:
            return
        fraction = accepted_fraction(step + 1, self.steps, self.final_fraction, self.start)
        # cluster where the loss lives: the projection, whose geometry is the trained one (the
        # encoder's features keep nuisances such as colour, and cluster by them)
        z = self.project(self.data)
        labels = pseudo_labels(z.float().cpu(), self.n_clusters, fraction, seed=self.seed + step)
        self.labels.copy_(labels.to(self.labels.device))
        entry = {"step": step + 1, "fraction": fraction}
        if self.truth is not None:
            entry.update(detection_quality(labels, self.truth))
        self.log.append(entry)

    @torch.no_grad()
    def project(self, x: Tensor) -> Tensor:
        """The projections ``g(f(x))`` ``(N, proj_dim)`` that IFND clusters, in eval mode."""
        with eval_mode(self):
            return torch.cat([self.projector(self.encoder(c)) for c in x.split(1024)])

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        model = cls(SmallConvNet(widths=(8, 16)), x, steps=4, n_clusters=2, recluster_every=2)
        return Example(model, (x, torch.arange(8)), x)


METHOD = IFND
