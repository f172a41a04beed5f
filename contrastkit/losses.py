"""Contrastive objectives as pure functions: tensors in, scalar loss out.

Every softmax-style loss here is computed as ``cross_entropy`` on ``similarity / temperature``
(a log-sum-exp), never as ``exp(s / t) / sum(exp(...))``: the naive form overflows to NaN at
``temperature=0.01``. Embeddings need not be normalised by the caller: each loss projects them
onto the unit sphere first, so similarities are cosines in ``[-1, 1]``.

Conventions: ``N`` is the batch size, ``D`` the embedding dimension. Shapes are in comments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .utils import check_labels, check_matrix, check_same_shape, check_temperature

__all__ = [
    "nt_xent",
    "info_nce",
    "supcon",
    "clip_loss",
    "hard_contrastive",
    "simple_contrastive",
    "align_uniform_loss",
    "negative_cosine",
    "cacr_loss",
    "symile_loss",
    "gram_volume",
    "gram_loss",
]


def _check_pair(z1: Tensor, z2: Tensor, name1: str, name2: str, min_rows: int = 1) -> None:
    check_matrix(z1, name1, min_rows)
    check_matrix(z2, name2, min_rows)
    check_same_shape(z1, z2, name1, name2)


def _two_view_logits(z1: Tensor, z2: Tensor, temperature: float | Tensor) -> tuple[Tensor, Tensor]:
    """Cosine logits of all 2N views against each other, self-similarity masked out.

    Returns:
        logits: (2N, 2N), ``-inf`` on the diagonal; targets: (2N,) index of each view's partner.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D)
    # dividing z, not the (2N, 2N) product, and masking in place save two (2N)^2 temporaries
    # (and a (2N)^2 bool mask kept for backward): see benchmarks/README.md, "Large batches"
    logits = (z / temperature) @ z.T  # (2N, 2N)
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # (2N,)
    return logits, targets


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy (NT-Xent).

    Reference: Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning
    of Visual Representations", ICML 2020, https://arxiv.org/abs/2002.05709.

    For the 2N views ``z = [z1; z2]`` with cosine similarity ``s_ij``, anchor ``i`` and its
    partner ``p(i)``::

        l_i = -log( exp(s_i,p(i) / t) / sum_{k != i} exp(s_ik / t) )
        loss = mean_i l_i          (over all 2N anchors)

    Args:
        z1: embeddings of the first view, ``(N, D)``, N >= 2 (the other N-1 pairs are negatives).
        z2: embeddings of the second view, ``(N, D)``; row i is the positive of ``z1[i]``.
        temperature: ``t > 0``; 0.1-0.5 is typical. Smaller focuses on the hardest negatives.

    Returns:
        The scalar mean loss.

    Raises:
        ValueError: temperature <= 0, shapes differ, not 2-D, or fewer than 2 rows.

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> nt_xent(z1, z2, temperature=0.5).shape
        torch.Size([])
    """
    check_temperature(temperature)
    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    logits, targets = _two_view_logits(z1, z2, temperature)
    return F.cross_entropy(logits, targets)


def info_nce(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor | None = None,
    temperature: float = 0.1,
) -> Tensor:
    """The general InfoNCE loss: pick the positive out of the candidates.

    Reference: van den Oord, Li, Vinyals, "Representation Learning with Contrastive Predictive
    Coding", 2018, https://arxiv.org/abs/1807.03748.

    ``l_i = -log( exp(q_i.p_i / t) / (exp(q_i.p_i / t) + sum_j exp(q_i.n_j / t)) )``

    Args:
        query: ``(N, D)``.
        positive: ``(N, D)``, row i is the positive of ``query[i]``.
        negatives: ``(M, D)`` shared by every query (a queue or memory bank), ``(N, M, D)`` one
            set per query, or ``None``: then the other rows of ``positive`` are the negatives
            (in-batch negatives, as in CLIP's one direction).
        temperature: ``t > 0``; MoCo uses 0.07-0.2.

    Returns:
        The scalar mean loss over the N queries.

    Raises:
        ValueError: bad temperature, shapes that do not pair up, or an empty batch.

    Example:
        >>> q, p, queue = torch.randn(4, 8), torch.randn(4, 8), torch.randn(32, 8)
        >>> loss = info_nce(q, p, queue, temperature=0.2)
    """
    check_temperature(temperature)
    _check_pair(query, positive, "query", "positive")
    q = F.normalize(query, dim=1)  # (N, D)
    p = F.normalize(positive, dim=1)  # (N, D)
    if negatives is None:
        logits = q @ p.T / temperature  # (N, N): positive on the diagonal
        targets = torch.arange(q.shape[0], device=q.device)
        return F.cross_entropy(logits, targets)
    if negatives.ndim == 2:
        if negatives.shape[1] != q.shape[1]:
            raise ValueError(
                f"negatives must be (M, {q.shape[1]}) to match query's dimension, "
                f"got {tuple(negatives.shape)}"
            )
        neg = q @ F.normalize(negatives, dim=1).T  # (N, M)
    elif negatives.ndim == 3:
        if negatives.shape[0] != q.shape[0] or negatives.shape[2] != q.shape[1]:
            raise ValueError(
                f"per-query negatives must be ({q.shape[0]}, M, {q.shape[1]}), "
                f"got {tuple(negatives.shape)}"
            )
        neg = torch.einsum("nd,nmd->nm", q, F.normalize(negatives, dim=2))  # (N, M)
    else:
        raise ValueError(f"negatives must be (M, D) or (N, M, D), got {tuple(negatives.shape)}")
    pos = (q * p).sum(dim=1, keepdim=True)  # (N, 1)
    logits = torch.cat([pos, neg], dim=1) / temperature  # (N, 1 + M), positive at index 0
    targets = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, targets)


def supcon(z: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (the "L_out" form: mean over positives outside the log).

    Reference: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020,
    https://arxiv.org/abs/2004.11362.

    Every other sample with the same label is a positive::

        l_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip / t) / sum_{k != i} exp(s_ik / t) )

    averaged over anchors that have at least one positive. With two views per image, pass
    ``z = cat([z1, z2])`` and ``labels = cat([y, y])``; with ``labels`` the image index this is
    exactly :func:`nt_xent`.

    Args:
        z: ``(N, D)`` embeddings.
        labels: ``(N,)`` integer labels.
        temperature: ``t > 0``; 0.1 in the paper.

    Returns:
        The scalar loss (0, still attached to the graph, when no label repeats).

    Raises:
        ValueError: bad temperature, wrong shapes or an empty batch.

    Example:
        >>> z, y = torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
        >>> loss = supcon(z, y, temperature=0.1)
    """
    check_temperature(temperature)
    check_matrix(z, "z", min_rows=2)
    check_labels(labels, z.shape[0])
    n = z.shape[0]
    zn = F.normalize(z, dim=1)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (zn @ zn.T / temperature).masked_fill(eye, float("-inf"))  # (N, N)
    log_prob = logits.float().log_softmax(dim=1)  # float32 keeps bf16 inputs accurate
    positives = (labels[:, None] == labels[None, :]) & ~eye  # (N, N)
    n_pos = positives.sum(dim=1)
    has_pos = n_pos > 0
    if not has_pos.any():
        return z.sum() * 0.0
    # masked_fill before the sum: -inf on the diagonal times 0 would be NaN.
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)
    return -(pos_log_prob[has_pos] / n_pos[has_pos]).mean().to(z.dtype)


def clip_loss(a: Tensor, b: Tensor, temperature: float | Tensor = 0.07) -> Tensor:
    """CLIP's symmetric cross-modal InfoNCE: match each ``a_i`` to ``b_i`` and back.

    Reference: Radford et al., "Learning Transferable Visual Models From Natural Language
    Supervision", ICML 2021, https://arxiv.org/abs/2103.00020.

    ``loss = (CE(a b^T / t, I) + CE(b a^T / t, I)) / 2`` with cosine similarities.

    Args:
        a: ``(N, D)`` embeddings of modality A (e.g. images).
        b: ``(N, D)`` embeddings of modality B (e.g. captions); row i pairs with ``a[i]``.
        temperature: ``t > 0``, a float or a scalar tensor (CLIP learns ``log(1/t)``).

    Returns:
        The scalar loss.

    Raises:
        ValueError: bad temperature, mismatched shapes, not 2-D, or an empty batch.

    Example:
        >>> img, txt = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = clip_loss(img, txt, temperature=0.07)
    """
    check_temperature(temperature)
    _check_pair(a, b, "a", "b")
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature  # (N, N)
    targets = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def _keep_hardest(neg_logits: Tensor, k: int | None, quantile: float | None) -> Tensor:
    """Set all but each row's hardest negatives to ``-inf``.

    ``neg_logits`` is ``(A, M)`` with ``-inf`` where a column is not a negative of that row.
    """
    m = int(torch.isfinite(neg_logits[0]).sum())
    if k is None:
        k = max(1, int(round(quantile * m)))
    k = min(k, m)
    kth = neg_logits.topk(k, dim=1).values[:, -1:]  # (A, 1): the k-th largest per row
    return neg_logits.masked_fill(neg_logits < kth, float("-inf"))


def _check_hard_args(k: int | None, quantile: float | None, n_negatives: int) -> None:
    if (k is None) == (quantile is None):
        raise ValueError("give exactly one of k (number of negatives kept) or quantile")
    if k is not None and not (isinstance(k, int) and 1 <= k):
        raise ValueError(f"k must be an int >= 1 (at most {n_negatives} here), got {k!r}")
    if quantile is not None and not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")


def hard_contrastive(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 1.0,
    k: int | None = None,
    quantile: float | None = None,
) -> Tensor:
    """NT-Xent over each anchor's hardest negatives only (Wang & Liu's hard contrastive loss).

    Reference: Wang, Liu, "Understanding the Behaviour of Contrastive Loss", CVPR 2021,
    https://arxiv.org/abs/2012.09740.

    With ``s_a`` the similarity above which anchor i keeps its negatives (its k-th largest, or
    the upper ``quantile``)::

        l_i = -log( exp(s_ii / t) / (exp(s_ii / t) + sum_{s_ik >= s_a} exp(s_ik / t)) )

    Cutting the easy negatives restores uniformity at a large, tolerant temperature.

    Args:
        z1: ``(N, D)`` first view. z2: ``(N, D)`` second view (positives row by row).
        temperature: ``t > 0``; the paper's hard loss works best at 0.7-1.0.
        k: keep this many hardest negatives per anchor (of the ``2N - 2``), or
        quantile: keep this upper fraction of them (the paper keeps ~8% on CIFAR).

    Returns:
        The scalar mean loss over the 2N anchors.

    Raises:
        ValueError: bad temperature or shapes, or not exactly one of ``k`` / ``quantile``.

    Example:
        >>> z1, z2 = torch.randn(64, 16), torch.randn(64, 16)
        >>> loss = hard_contrastive(z1, z2, temperature=1.0, k=12)
    """
    check_temperature(temperature)
    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    n = z1.shape[0]
    _check_hard_args(k, quantile, 2 * n - 2)
    logits, targets = _two_view_logits(z1, z2, temperature)  # (2N, 2N)
    rows = torch.arange(2 * n, device=logits.device)
    pos = logits[rows, targets].clone()  # (2N,)
    neg = logits.clone()
    neg[rows, targets] = float("-inf")  # negatives only: self and partner masked
    neg = _keep_hardest(neg, k, quantile)
    neg[rows, targets] = pos  # put the positive back where the targets expect it
    return F.cross_entropy(neg, targets)


def simple_contrastive(
    z1: Tensor, z2: Tensor, lam: float = 1.0, k: int | None = None, quantile: float | None = None
) -> Tensor:
    """The "simple" loss, the large-temperature limit of the contrastive loss (no hardness).

    Reference: Wang, Liu, CVPR 2021 (above), their L_simple and HardSimple.

    ``l_i = -s_ii + lam * mean_{j in negatives(i)} s_ij``: every negative is pushed with the
    same force. With ``k`` or ``quantile`` only the hardest negatives are averaged (HardSimple).

    Args:
        z1: ``(N, D)``. z2: ``(N, D)``.
        lam: weight of the negative term (>= 0).
        k, quantile: optional hard-negative selection as in :func:`hard_contrastive`.

    Returns:
        The scalar mean loss over the 2N anchors.

    Example:
        >>> loss = simple_contrastive(torch.randn(32, 8), torch.randn(32, 8), lam=1.0)
    """
    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    n = z1.shape[0]
    sim, targets = _two_view_logits(z1, z2, 1.0)  # (2N, 2N) cosines, -inf on the diagonal
    rows = torch.arange(2 * n, device=sim.device)
    pos = sim[rows, targets]
    neg = sim.clone()
    neg[rows, targets] = float("-inf")
    if k is not None or quantile is not None:
        _check_hard_args(k, quantile, 2 * n - 2)
        neg = _keep_hardest(neg, k, quantile)
    kept = torch.isfinite(neg)
    neg_mean = neg.masked_fill(~kept, 0.0).sum(dim=1) / kept.sum(dim=1)
    return (-pos + lam * neg_mean).mean()


def align_uniform_loss(
    z1: Tensor, z2: Tensor, alpha: float = 2.0, t: float = 2.0, lam: float = 1.0
) -> Tensor:
    """Wang & Isola's direct objective: alignment plus weighted uniformity.

    Reference: Wang, Isola, "Understanding Contrastive Representation Learning through Alignment
    and Uniformity on the Hypersphere", ICML 2020, https://arxiv.org/abs/2005.10242.

    ``loss = E ||f(x) - f(y)||^alpha + lam * (L_unif(z1) + L_unif(z2)) / 2`` on normalised
    embeddings, with ``L_unif(z) = log E exp(-t ||z_i - z_j||^2)`` (see ``metrics.uniformity``).

    Args:
        z1, z2: ``(N, D)`` paired views. alpha: alignment exponent (2). t: uniformity scale (2).
        lam: weight of uniformity (the paper uses 1).

    Example:
        >>> loss = align_uniform_loss(torch.randn(32, 8), torch.randn(32, 8))
    """
    from .metrics import alignment, uniformity

    _check_pair(z1, z2, "z1", "z2", min_rows=2)
    return alignment(z1, z2, alpha) + lam * (uniformity(z1, t) + uniformity(z2, t)) / 2


def negative_cosine(p: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """BYOL / SimSiam's prediction loss: minus the cosine of prediction and target.

    References: Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020,
    https://arxiv.org/abs/2006.07733; Chen, He, "Exploring Simple Siamese Representation
    Learning", CVPR 2021, https://arxiv.org/abs/2011.10566.

    ``loss = -mean_i cos(p_i, sg(z_i))``; with ``stop_gradient=False`` the target gets gradients
    too (the ablation that collapses). BYOL's ``2 - 2 cos`` differs by an affine map.

    Args:
        p: ``(N, D)`` predictions. z: ``(N, D)`` targets.
        stop_gradient: detach ``z`` (the default, and what prevents collapse in SimSiam).
    """
    _check_pair(p, z, "p", "z")
    if stop_gradient:
        z = z.detach()
    return -F.cosine_similarity(p, z, dim=1).mean()


def _check_views(views: Tensor | list[Tensor]) -> Tensor:
    """Stack ``views`` into ``(M, N, D)`` and check it (M >= 2 views of N >= 2 items)."""
    if isinstance(views, (list, tuple)):
        if len(views) < 2:
            raise ValueError(f"views must hold at least 2 views, got {len(views)}")
        for k, v in enumerate(views):
            check_matrix(v, f"views[{k}]", min_rows=2)
            check_same_shape(v, views[0], f"views[{k}]", "views[0]")
        views = torch.stack(list(views))
    if not isinstance(views, Tensor):
        raise TypeError(f"views must be a Tensor (M, N, D) or a list of (N, D), got {type(views)}")
    if views.ndim != 3 or views.shape[0] < 2 or views.shape[1] < 2 or views.shape[2] < 1:
        raise ValueError(
            f"views must be (M, N, D) with M >= 2 views and N >= 2 items, got {tuple(views.shape)}"
        )
    if not views.is_floating_point():
        raise TypeError(f"views must be floating point, got dtype {views.dtype}")
    return views


def _check_sharpness(value: float, name: str) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 0 <= value < float("inf"):  # False for NaN and inf too
        raise ValueError(f"{name} must be a finite number >= 0 (0: uniform weights), got {value!r}")


def cacr_loss(views: Tensor | list[Tensor], tau_pos: float = 1.0, tau_neg: float = 0.9) -> Tensor:
    """CACR: contrastive attraction of the positives plus contrastive repulsion of the negatives.

    Reference: Huangjie Zheng, Xu Chen, Jiangchao Yao, Hongxia Yang, Chunyuan Li, Ya Zhang, Hao
    Zhang, Ivor Tsang, Jingren Zhou, Mingyuan Zhou, "Contrastive Attraction and Contrastive
    Repulsion for Representation Learning", TMLR 2023, https://arxiv.org/abs/2105.03746
    (code: github.com/JegZheng/CACR-SSL, ``our_loss1`` / ``our_loss2``).

    With ``M`` views of ``N`` items on the unit sphere and ``d(a, b) = ||a - b||^2``, for every
    anchor ``x = z_a[i]`` (view a, item i)::

        positives: z_b[i], b != a     pi+_b = softmax_b( tau_pos * d(x, z_b[i]) )
        negatives: z_b[j], b != a, j != i
                                      pi-_bj = softmax_j( -tau_neg * d(x, z_b[j]) )  (per b)
        L_CA = mean_x  sum_b pi+_b d(x, z_b[i])         far positives are pulled hardest
        L_CR = -mean_x mean_b sum_j pi-_bj d(x, z_b[j])  close negatives are pushed hardest
        loss = L_CA + L_CR

    ``tau_pos`` and ``tau_neg`` multiply the distances (they are inverse temperatures, as in
    the paper): 0 gives uniform weights (the code's ``choice="none"`` ablation, an alignment
    plus mean-distance loss), large values put all the weight on the farthest positive and the
    closest negative. The weights are softmaxes (log-sum-exp inside), finite at any value.
    Unlike the reference code, which uses only the view pairs (a < b), every ordered pair
    (a != b) is used, so the loss is symmetric in the views.

    Args:
        views: ``(M, N, D)`` or a list of ``M`` tensors ``(N, D)``; ``M >= 2`` views (the paper
            uses 4) of ``N >= 2`` items, row i of every view the same item. Normalised inside.
        tau_pos: sharpness of the attraction weights, ``>= 0``; 1.0 in the paper.
        tau_neg: sharpness of the repulsion weights, ``>= 0``; 0.9 (CIFAR-10) or 2.0.

    Returns:
        The scalar loss, in ``[-4, 4]`` (negative once negatives are far and positives close).

    Raises:
        ValueError: fewer than 2 views or items, views of different shapes, or a negative or
            non-finite ``tau_pos`` / ``tau_neg``.
        TypeError: non-tensor or integer views.

    Example:
        >>> z = torch.randn(4, 32, 16)   # 4 views of 32 items
        >>> loss = cacr_loss(z, tau_pos=1.0, tau_neg=0.9)
    """
    z = _check_views(views)
    _check_sharpness(tau_pos, "tau_pos")
    _check_sharpness(tau_neg, "tau_neg")
    m, n, _ = z.shape
    zn = F.normalize(z.float(), dim=2)  # float32 keeps bf16 inputs accurate
    # d[a, b, i, j] = ||z_a[i] - z_b[j]||^2 = 2 - 2 cos on the sphere: (M, M, N, N)
    d = (2 - 2 * torch.einsum("aid,bjd->abij", zn, zn)).clamp(min=0)
    other_view = ~torch.eye(m, dtype=torch.bool, device=z.device)  # (M, M): a != b
    # attraction: the positives of (a, i) are d[a, b, i, i] over b != a
    pos = d.diagonal(dim1=2, dim2=3)[other_view].view(m, m - 1, n)  # (M, M-1, N)
    w_pos = torch.softmax(tau_pos * pos, dim=1)  # over the M-1 positives
    attraction = (w_pos * pos).sum(dim=1).mean()
    # repulsion: the negatives of (a, i) in view b are d[a, b, i, j] over j != i
    neg = d[other_view]  # (M(M-1), N, N)
    self_pair = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (-tau_neg * neg).masked_fill(self_pair, float("-inf"))
    w_neg = torch.softmax(logits, dim=2)  # (M(M-1), N, N), 0 on the diagonal
    repulsion = -(w_neg * neg.masked_fill(self_pair, 0.0)).sum(dim=2).mean()
    return (attraction + repulsion).to(z.dtype)


def _check_modalities(embeddings, name: str = "embeddings", min_rows: int = 1) -> None:
    if not isinstance(embeddings, (list, tuple)) or len(embeddings) < 2:
        raise ValueError(f"{name} must be a list of >= 2 (N, D) tensors, one per modality")
    for i, z in enumerate(embeddings):
        check_matrix(z, f"{name}[{i}]", min_rows)
        check_same_shape(embeddings[0], z, f"{name}[0]", f"{name}[{i}]")


def symile_loss(
    embeddings: list[Tensor] | tuple[Tensor, ...],
    temperature: float | Tensor = 0.1,
    negatives: str = "n",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Symile: contrast whole tuples of any number of modalities with the multilinear product.

    Reference: Adriel Saporta, Aahlad Puli, Mark Goldstein, Rajesh Ranganath, "Contrasting with
    Symile: Simple Model-Agnostic Representation Learning for Unlimited Modalities", NeurIPS
    2024, https://arxiv.org/abs/2411.01053.

    The score of a tuple is the multilinear inner product of its unit embeddings,
    ``MIP(x, y, z) = sum_k x_k y_k z_k``. Each modality in turn is the anchor: its row ``i``
    must pick the positive tuple's other modalities out of candidates, by cross-entropy on
    ``MIP / t``; the loss is the mean over the anchors. For two modalities it is CLIP's loss.

    Candidates (``negatives``): ``"n"`` (the paper's O(N)): column ``j`` holds row ``j`` of the
    first other modality times randomly permuted rows of the remaining ones (one permutation
    each), and the positive tuple goes on the diagonal; ``"n2"`` (O(N^(M-1))): every
    combination of the other modalities' rows. The reference implementation permutes the first
    other modality too; keeping it in order changes only the column order, never the set of
    negatives, and keeps the anchor's own partners out of the negatives.

    Args:
        embeddings: ``M >= 2`` tensors ``(N, D)``, one per modality, row ``i`` of each the
            same tuple (normalised inside).
        temperature: ``t > 0``, a float or a scalar tensor (Symile learns ``1 / t``).
        negatives: ``"n"`` or ``"n2"`` (memory ``N^(M-1) D``: small batches only).
        generator: seeds the permutations of ``"n"`` (drawn on the CPU, for anchors in order,
            then for the other modalities in order after the first); default: the global RNG.

    Returns:
        The scalar loss.

    Raises:
        ValueError: fewer than 2 modalities, mismatched shapes, bad temperature or negatives.
        TypeError: a non-tensor or integer embedding.

    Example:
        >>> a, b, c = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = symile_loss([a, b, c], temperature=0.1)
    """
    check_temperature(temperature)
    _check_modalities(embeddings)
    if negatives not in ("n", "n2"):
        raise ValueError(f"negatives must be 'n' (O(N)) or 'n2' (all rows), got {negatives!r}")
    r = [F.normalize(z, dim=1) for z in embeddings]  # M x (N, D)
    n, dev = r[0].shape[0], r[0].device
    positive = torch.stack(r).prod(dim=0).sum(dim=1)  # (N,) MIP of each true tuple
    rows = torch.arange(n, device=dev)
    losses = []
    for m in range(len(r)):
        others = [r[k] for k in range(len(r)) if k != m]
        if negatives == "n":
            cand = others[0]
            for o in others[1:]:
                cand = cand * o[torch.randperm(n, generator=generator).to(dev)]
            logits = r[m] @ cand.T  # (N, N)
            diag = rows[:, None] == rows[None, :]
            logits = torch.where(diag, positive[:, None], logits)
            targets = rows
        else:
            cand, targets = others[0], rows
            for o in others[1:]:  # row-major over (j1, j2, ...): positive at (i, i, ...)
                cand = (cand[:, None, :] * o[None, :, :]).reshape(-1, cand.shape[1])
                targets = targets * n + rows
            logits = r[m] @ cand.T  # (N, N^(M-1))
        losses.append(F.cross_entropy(logits / temperature, targets))
    return torch.stack(losses).mean()


def _volumes(gram: Tensor, eps: float) -> Tensor:
    # det of the (k, k) Gram matrices in float32 at least (no bfloat16 det), clamped above 0:
    # the volume's gradient 1 / (2 sqrt(det)) is infinite at a degenerate tuple
    g = gram if gram.dtype == torch.float64 else gram.float()
    k = g.shape[-1]
    if k == 2:  # closed forms: far faster on CPU than a batched LU of many tiny matrices
        det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0]
    elif k == 3:
        det = (
            g[..., 0, 0] * (g[..., 1, 1] * g[..., 2, 2] - g[..., 1, 2] * g[..., 2, 1])
            - g[..., 0, 1] * (g[..., 1, 0] * g[..., 2, 2] - g[..., 1, 2] * g[..., 2, 0])
            + g[..., 0, 2] * (g[..., 1, 0] * g[..., 2, 1] - g[..., 1, 1] * g[..., 2, 0])
        )
    else:
        det = torch.linalg.det(g)
    return det.clamp(min=eps).sqrt()


def gram_volume(
    embeddings: list[Tensor] | tuple[Tensor, ...], all_pairs: bool = False, eps: float = 1e-8
) -> Tensor:
    """GRAM's similarity: the volume of the parallelotope spanned by a tuple's unit vectors.

    Reference: Giordano Cicchetti, Eleonora Grassucci, Luigi Sigillo, Danilo Comminiello,
    "Gramian Multimodal Representation Learning and Alignment", ICLR 2025,
    https://arxiv.org/abs/2412.11959.

    ``Vol(v_1, ..., v_k) = sqrt(det G)`` with ``G_ab = v_a . v_b`` (unit vectors, so ``G_aa =
    1``): 0 when all vectors are collinear (aligned, or anti-aligned!), 1 when orthogonal; for
    two vectors it is ``sin`` of their angle.

    Args:
        embeddings: ``k >= 2`` tensors ``(N, D)``, normalised inside.
        all_pairs: False: ``(N,)`` volumes of the row tuples. True: ``(A, N)`` volumes of
            ``embeddings[0]`` row ``i`` (``A`` rows, any number) with the other modalities of
            row ``j`` (anchors against whole candidate tuples, as GRAM's logits need).
        eps: lower clamp of ``det G`` (keeps gradients finite at degenerate tuples).

    Raises:
        ValueError / TypeError: fewer than 2 modalities, mismatched or non-float tensors.

    Example:
        >>> t, v, a = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
        >>> gram_volume([t, v, a]).shape, gram_volume([t, v, a], all_pairs=True).shape
        (torch.Size([4]), torch.Size([4, 4]))
    """
    if all_pairs and isinstance(embeddings, (list, tuple)) and len(embeddings) >= 2:
        # the anchors may be any number of rows (retrieval among candidates): check the tuples
        check_matrix(embeddings[0], "embeddings[0]")
        for i, z in enumerate(embeddings[1:], start=1):
            check_matrix(z, f"embeddings[{i}]")
            check_same_shape(embeddings[1], z, "embeddings[1]", f"embeddings[{i}]")
        if embeddings[0].shape[1] != embeddings[1].shape[1]:
            raise ValueError(
                f"embeddings[0] must have D={embeddings[1].shape[1]} columns like the others, "
                f"got shape {tuple(embeddings[0].shape)}"
            )
    else:
        _check_modalities(embeddings)
    return _gram_volume(embeddings, all_pairs, eps)


def _gram_volume(embeddings, all_pairs: bool, eps: float) -> Tensor:
    # float32 at least: no bfloat16 determinants, and 1 - cos^2 cancels badly in low precision
    r = [F.normalize(z if z.dtype == torch.float64 else z.float(), dim=1) for z in embeddings]
    if all_pairs and len(r) in (2, 3):
        # closed forms from the cosines (unit diagonal), 10x faster than assembling (A, N, k, k)
        c01 = r[0] @ r[1].T  # (A, N)
        if len(r) == 2:
            return (1 - c01 * c01).clamp(min=eps).sqrt()
        c02, c12 = r[0] @ r[2].T, (r[1] * r[2]).sum(dim=1)  # (A, N), (N,)
        det = 1 + 2 * c01 * c02 * c12 - c01 * c01 - c02 * c02 - c12 * c12
        return det.clamp(min=eps).sqrt()  # (A, N)
    if not all_pairs:
        stack = torch.stack(r, dim=1)  # (N, k, D)
        return _volumes(stack @ stack.transpose(1, 2), eps)  # (N,)
    # the anchor may have another number of rows than the tuples (retrieval among candidates)
    anchor, others = r[0], torch.stack(r[1:], dim=1)  # (A, D), (N, k-1, D)
    k = len(r)
    cross = torch.einsum("id,jad->ija", anchor, others)  # (A, N, k-1): anchor_i . other_a,j
    inner = others @ others.transpose(1, 2)  # (N, k-1, k-1): within candidate tuple j
    gram = anchor.new_empty(anchor.shape[0], others.shape[0], k, k)
    gram[..., 0, 0] = 1.0
    gram[..., 0, 1:] = cross
    gram[..., 1:, 0] = cross
    gram[..., 1:, 1:] = inner[None]
    return _volumes(gram, eps)  # (A, N)


def gram_loss(
    anchor: Tensor, others: list[Tensor] | tuple[Tensor, ...], temperature: float | Tensor = 0.07
) -> Tensor:
    """GRAM's contrastive loss: minus the Gramian volume as the logit, anchor vs whole tuples.

    Reference: Cicchetti et al., "Gramian Multimodal Representation Learning and Alignment",
    ICLR 2025, https://arxiv.org/abs/2412.11959.

    ``s_ij = -Vol(anchor_i, others_1j, ..., others_kj) / t`` (see ``gram_volume``);
    ``loss = (CE(s, I) + CE(s^T, I)) / 2``: each anchor picks its tuple, each tuple its anchor.
    Shrinking a true tuple's volume pulls *all* its modalities together, not only each to the
    anchor. With one other modality the logit is ``-sin`` of the angle (anti-aligned pairs score
    as well as aligned ones: the pitfall of a volume with two vectors).

    Args:
        anchor: ``(N, D)`` anchor embeddings (text in the paper).
        others: ``k >= 1`` tensors ``(N, D)``, the other modalities; row ``j`` is one tuple.
        temperature: ``t > 0`` (the paper learns it, starting at 0.07).

    Raises:
        ValueError / TypeError: bad temperature, no other modality, mismatched shapes.

    Example:
        >>> t, v, a = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = gram_loss(t, [v, a], temperature=0.07)
    """
    check_temperature(temperature)
    if not isinstance(others, (list, tuple)) or not others:
        raise ValueError("others must be a non-empty list of (N, D) tensors")
    check_matrix(anchor, "anchor")
    for i, o in enumerate(others):
        check_matrix(o, f"others[{i}]")
        check_same_shape(anchor, o, "anchor", f"others[{i}]")
    logits = -_gram_volume([anchor, *others], True, 1e-8) / temperature  # (N, N)
    targets = torch.arange(anchor.shape[0], device=anchor.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def intra_inter_nce(a: Tensor, b: Tensor, temperature: float | Tensor = 0.07) -> Tensor:
    """CLIP's symmetric loss with the anchor's own modality among the negatives (CLSR's L_intra).

    Reference: Luo et al., "Contrastive Latent Space Reconstruction Learning for Audio-Text
    Retrieval", 2023, https://arxiv.org/abs/2309.08839.

    For anchor ``a_i`` the candidates are every ``b_j`` (positive ``b_i``) *and* every other
    ``a_j``; the same with the roles swapped; cosine similarities:
    ``l_a(i) = -log e^{a_i.b_i/t} / (sum_j e^{a_i.b_j/t} + sum_{j!=i} e^{a_i.a_j/t})``,
    ``loss = mean_i (l_a(i) + l_b(i)) / 2``. The extra terms push apart different items *of the
    same modality*, which the cross-modal loss alone never asks for.

    Args:
        a: ``(N, D)`` embeddings of modality A (e.g. audio).
        b: ``(N, D)`` embeddings of modality B (e.g. captions); row i pairs with ``a[i]``.
        temperature: ``t > 0``, a float or a scalar tensor.

    Returns:
        The scalar loss, in the dtype of ``a`` (computed in float32 at least).

    Raises:
        ValueError: bad temperature, mismatched shapes, not 2-D, or an empty batch.
        TypeError: a non-tensor or integer input.

    Example:
        >>> audio, text = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = intra_inter_nce(audio, text, temperature=0.07)
    """
    check_temperature(temperature)
    _check_pair(a, b, "a", "b")
    n, dtype = a.shape[0], a.dtype
    up = (lambda z: z.float()) if dtype in (torch.float16, torch.bfloat16) else (lambda z: z)
    za, zb = F.normalize(up(a), dim=1), F.normalize(up(b), dim=1)  # (N, D)
    cross = za @ zb.T / temperature  # (N, N): a_i . b_j / t
    self_pair = torch.eye(n, dtype=torch.bool, device=a.device)
    aa = (za @ za.T / temperature).masked_fill(self_pair, float("-inf"))  # (N, N)
    bb = (zb @ zb.T / temperature).masked_fill(self_pair, float("-inf"))
    targets = torch.arange(n, device=a.device)
    loss_a = F.cross_entropy(torch.cat([cross, aa], dim=1), targets)  # (N, 2N) candidates
    loss_b = F.cross_entropy(torch.cat([cross.T, bb], dim=1), targets)
    return ((loss_a + loss_b) / 2).to(dtype)


__all__ += ["intra_inter_nce"]


def similarity_distillation(
    a: Tensor,
    b: Tensor,
    a_old: Tensor,
    b_old: Tensor,
    temperature: float | Tensor = 1.0,
    filter_wrong: bool = True,
) -> Tensor:
    """Mod-X's off-diagonal distillation: keep the old model's whole image-text similarity matrix.

    Reference: Zixuan Ni, Longhui Wei, Siliang Tang, Yueting Zhuang, Qi Tian, "Continual
    Vision-Language Representation Learning with Off-Diagonal Information", ICML 2023,
    https://arxiv.org/abs/2305.07437.

    ``S = norm(a) norm(b)^T / t`` (current model) and ``S_old`` likewise (frozen old model), both
    ``(N, N)`` on the same batch. Row softmaxes are image->text distributions, column softmaxes
    text->image; ``loss = (mean_i KL(softmax(S_old_i) || softmax(S_i)) + same over columns) / 2``.
    Every entry counts, the off-diagonal ones included: the old model's *relative* geometry, not
    only its matched pairs. "Cognition align" (``filter_wrong``): a row (column) the old model
    gets wrong (its argmax is not the diagonal) is not distilled.

    Args:
        a, b: ``(N, D)`` current image / text embeddings; row i of each is a pair.
        a_old, b_old: ``(N, D)`` the old model's embeddings of the same rows (no gradient).
        temperature: ``t > 0`` of both softmaxes (the paper's code: 1 on cosines).
        filter_wrong: skip the rows and columns the old model retrieves wrongly (the paper).

    Returns:
        The scalar loss (>= 0, 0 when the two matrices agree), in the dtype of ``a``.

    Raises:
        ValueError: bad temperature, mismatched shapes, not 2-D, or an empty batch (named).
        TypeError: a non-tensor or integer input.

    Example:
        >>> a, b = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = similarity_distillation(a, b, a + 0.1, b - 0.1, temperature=0.1)
    """
    check_temperature(temperature)
    _check_pair(a, b, "a", "b")
    _check_pair(a, a_old, "a", "a_old")
    _check_pair(b, b_old, "b", "b_old")
    dtype = a.dtype
    up = (lambda z: z.float()) if dtype in (torch.float16, torch.bfloat16) else (lambda z: z)
    za, zb = F.normalize(up(a), dim=1), F.normalize(up(b), dim=1)  # (N, D)
    oa, ob = F.normalize(up(a_old).detach(), dim=1), F.normalize(up(b_old).detach(), dim=1)
    s = za @ zb.T / temperature  # (N, N) current
    s_old = oa @ ob.T / temperature  # (N, N) old, the target
    diag = torch.arange(a.shape[0], device=a.device)
    total = s.new_zeros(())
    for cur, old in ((s, s_old), (s.T, s_old.T)):  # image->text rows, then text->image
        log_p, log_q = F.log_softmax(old, dim=1), F.log_softmax(cur, dim=1)
        kl = (log_p.exp() * (log_p - log_q)).sum(dim=1)  # (N,) KL(old_i || current_i)
        if filter_wrong:
            kl = kl * (old.argmax(dim=1) == diag)  # cognition align: drop wrong rows
        total = total + kl.mean() / 2
    return total.to(dtype)


__all__ += ["similarity_distillation"]


def mim_loss(
    x: Tensor, x_rec: Tensor, z: Tensor, mu: Tensor, sigma: Tensor, pixel_std: float = 0.1
) -> Tensor:
    """A-MIM's loss for a Gaussian encoder and decoder, per image, averaged over the batch.

    Reference: Micha Livne, Kevin Swersky, David J. Fleet, "MIM: Mutual Information Machine",
    arXiv 2019, https://arxiv.org/abs/1910.03175 (the base of cMIM, card 38).

    ``loss = -1/2 [log p(x|z) + log N(z; 0, I) + log q(z|x)]`` for one draw ``z ~ q(z|x)``, with
    ``p(x|z) = N(x_rec, pixel_std^2 I)`` and ``q(z|x) = N(mu, sigma^2)``. Unlike the ELBO (which
    *subtracts* ``log q``), the ``+log q`` term rewards a peaked posterior: high mutual information
    between ``x`` and ``z``. Not a softmax: no temperature; computed in float32 or wider.

    Args:
        x: ``(N, P)`` inputs (flattened). x_rec: ``(N, P)`` the decoder's means at ``z``.
        z: ``(N, d)`` the draw. mu, sigma: ``(N, d)`` the posterior's mean and std (``> 0``).
        pixel_std: the decoder's fixed std ``> 0`` (0.1 for pixels in [0, 1]).

    Returns:
        The scalar loss in nats per image, in the dtype of ``x``.

    Raises:
        ValueError: mismatched shapes, not 2-D, an empty batch, or ``pixel_std <= 0`` (named).
        TypeError: a non-tensor or integer input.

    Example:
        >>> mu, sigma = torch.zeros(8, 4), torch.ones(8, 4)
        >>> z = mu + sigma * torch.randn(8, 4)
        >>> loss = mim_loss(torch.rand(8, 64), torch.rand(8, 64), z, mu, sigma)
    """
    _check_pair(x, x_rec, "x", "x_rec")
    _check_pair(z, mu, "z", "mu")
    _check_pair(mu, sigma, "mu", "sigma")
    if z.shape[0] != x.shape[0]:
        raise ValueError(f"z and x must have the same rows, got {z.shape[0]} and {x.shape[0]}")
    if not (isinstance(pixel_std, (int, float)) and pixel_std > 0):
        raise ValueError(f"pixel_std must be a number > 0, got {pixel_std!r}")
    dtype = x.dtype
    wide = torch.promote_types(dtype, torch.float32)
    x, x_rec, z, mu, sigma = (t.to(wide) for t in (x, x_rec, z, mu, sigma))
    log2pi = 1.8378770664093453  # log(2 pi)
    log_s = torch.log(torch.tensor(float(pixel_std), dtype=wide))
    log_px = (-0.5 * (((x - x_rec) / pixel_std) ** 2 + log2pi) - log_s).sum(1)  # (N,)
    log_pz = -0.5 * (z**2 + log2pi).sum(1)  # (N,) standard normal prior
    log_qz = (-0.5 * (((z - mu) / sigma) ** 2 + log2pi) - torch.log(sigma)).sum(1)  # (N,)
    return (-0.5 * (log_px + log_pz + log_qz)).mean().to(dtype)


__all__ += ["mim_loss"]


def global_contrast(
    z: Tensor,
    g_same: Tensor,
    g_other: Tensor,
    z_old: Tensor | None = None,
    temperature: float | Tensor = 0.5,
) -> Tensor:
    """CreamFL's client regulariser: pull a client's public representations to the server's.

    Reference: Qiying Yu, Yang Liu, Yimu Wang, Ke Xu, Jingjing Liu, "Multimodal Federated
    Learning via Contrastive Representation Ensemble", ICLR 2023,
    https://arxiv.org/abs/2302.08888.

    On public row ``i`` a client's embedding ``z_i`` of one modality, the server's global
    embeddings ``g_same_i`` (same modality) and ``g_other_j`` (the other modality), cosines:
    ``inter = CE([z_i . g_other_j / t]_j, i)`` (find its own pair among the server's other
    modality: closes the modality gap); ``intra = CE([z_i . g_same_i, z_i . z_old_i] / t, 0)``
    (closer to the server than to the client's own previous model: curbs client drift, as in
    MOON). ``loss = inter + intra`` averaged over rows (``intra`` is 0 without ``z_old``).

    Args:
        z: ``(N, D)`` the client's embeddings of the public rows (one modality).
        g_same: ``(N, D)`` the server's embeddings of the same rows and modality (targets).
        g_other: ``(N, D)`` the server's embeddings of the same rows, other modality.
        z_old: optional ``(N, D)`` the client's previous-round embeddings of the same rows.
        temperature: ``t > 0`` (0.5 in the paper's code).

    Returns:
        The scalar loss, in the dtype of ``z``.

    Raises:
        ValueError: bad temperature, mismatched shapes, not 2-D, or an empty batch (named).
        TypeError: a non-tensor or integer input.

    Example:
        >>> z, g_img, g_txt = torch.randn(3, 8, 16)
        >>> loss = global_contrast(z, g_img, g_txt, z_old=None, temperature=0.5)
    """
    check_temperature(temperature)
    _check_pair(z, g_same, "z", "g_same")
    _check_pair(z, g_other, "z", "g_other")
    if z_old is not None:
        _check_pair(z, z_old, "z", "z_old")
    dtype = z.dtype
    up = (lambda v: v.float()) if dtype in (torch.float16, torch.bfloat16) else (lambda v: v)
    zz = F.normalize(up(z), dim=1)  # (N, D)
    same = F.normalize(up(g_same).detach(), dim=1)
    other = F.normalize(up(g_other).detach(), dim=1)
    targets = torch.arange(z.shape[0], device=z.device)
    loss = F.cross_entropy(zz @ other.T / temperature, targets)  # inter-modal, (N, N) logits
    if z_old is not None:
        old = F.normalize(up(z_old).detach(), dim=1)
        pos, neg = (zz * same).sum(1), (zz * old).sum(1)  # (N,) each
        logits = torch.stack([pos, neg], dim=1) / temperature  # (N, 2): the server is class 0
        loss = loss + F.cross_entropy(logits, torch.zeros_like(targets))
    return loss.to(dtype)


__all__ += ["global_contrast"]


def mlcd_loss(z: Tensor, centres: Tensor, positives: Tensor, temperature: float = 0.1) -> Tensor:
    """Multi-label cluster discrimination: several positive centres per sample, positive and
    negative terms kept apart.

    Reference: Xiang An, Kaicheng Yang, Xiangzi Dai, Ziyong Feng, Jiankang Deng, "Multi-label
    Cluster Discrimination for Visual Representation Learning", ECCV 2024,
    https://arxiv.org/abs/2407.17331.

    With ``s_j = cos(z, c_j) / t`` over the ``K`` centres and ``P`` the positive set::

        loss = mean_i [ log(1 + sum_{j not in P_i} exp(s_ij)) + log(1 + sum_{p in P_i} exp(-s_ip)) ]

    Each log is a ``logsumexp`` with a 0 logit added (``log(1 + sum e^a) = logsumexp([0, a])``),
    so ``t = 0.01`` does not overflow. Unlike a softmax over all centres, positives do not
    compete with each other: each only has to score above 0 while every negative scores below.

    Args:
        z: ``(N, D)`` embeddings. centres: ``(K, D)`` cluster centres (prototypes).
        positives: ``(N, K)`` bool, True for each sample's positive centres (e.g. its k nearest).
        temperature: ``t > 0``.

    Returns:
        The scalar loss, in the dtype of ``z`` (computed in float32 or wider).

    Raises:
        ValueError: bad temperature, shapes that do not match, NaN inputs.
        TypeError: non-tensor inputs or a non-bool ``positives``.

    Example:
        >>> z, centres = torch.randn(8, 16), torch.randn(32, 16)
        >>> pos = torch.zeros(8, 32, dtype=torch.bool); pos[:, :3] = True
        >>> loss = mlcd_loss(z, centres, pos, temperature=0.1)
    """
    check_temperature(temperature)
    check_matrix(z, "z")
    check_matrix(centres, "centres")
    if not isinstance(positives, Tensor) or positives.dtype != torch.bool:
        raise TypeError("positives must be a bool tensor (N, K)")
    if z.shape[1] != centres.shape[1]:
        raise ValueError(f"z and centres must share D, got {z.shape[1]} and {centres.shape[1]}")
    if positives.shape != (z.shape[0], centres.shape[0]):
        raise ValueError(
            f"positives must be (N, K) = {(z.shape[0], centres.shape[0])}, "
            f"got {tuple(positives.shape)}"
        )
    if not (torch.isfinite(z).all() and torch.isfinite(centres).all()):
        raise ValueError("z and centres must be finite (got NaN or inf)")
    dtype = z.dtype
    wide = torch.promote_types(dtype, torch.float32)
    s = F.normalize(z.to(wide), dim=1) @ F.normalize(centres.to(wide), dim=1).T / temperature
    zero = s.new_zeros(s.shape[0], 1)  # the "1 +" inside each log
    neg = torch.logsumexp(torch.cat([zero, s.masked_fill(positives, float("-inf"))], 1), 1)
    pos = torch.logsumexp(torch.cat([zero, (-s).masked_fill(~positives, float("-inf"))], 1), 1)
    return (neg + pos).mean().to(dtype)


__all__ += ["mlcd_loss"]


def itc_distill_loss(
    a: Tensor,
    b: Tensor,
    a_m: Tensor,
    b_m: Tensor,
    temperature: float | Tensor = 0.07,
    alpha: float = 0.4,
) -> Tensor:
    """ALBEF's image-text contrastive loss with momentum distillation (soft targets).

    Reference: Li, Selvaraju, Gotmare, Joty, Xiong, Hoi, "Align before Fuse: Vision and Language
    Representation Learning with Momentum Distillation", NeurIPS 2021,
    https://arxiv.org/abs/2107.07651.

    With cosine similarities ``s = a b^T / t`` (online) and ``s_m = a_m b_m^T / t`` (momentum)::

        y_i2t = alpha * softmax(s_m) + (1 - alpha) * I      y_t2i likewise with s_m^T
        loss  = ( CE(s, y_i2t) + CE(s^T, y_t2i) ) / 2       CE with soft targets

    ``alpha = 0`` is ``clip_loss``; the momentum embeddings only shape the targets (no gradient).

    Args:
        a, b: ``(N, D)`` online image and text embeddings; row i of each pairs up.
        a_m, b_m: ``(N, D)`` the momentum model's embeddings of the same rows.
        temperature: ``t > 0``. alpha: in [0, 1], the weight of the soft targets.

    Raises:
        ValueError: bad temperature or alpha, mismatched shapes (the argument named).
    """
    check_temperature(temperature)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    _check_pair(a, b, "a", "b")
    _check_pair(a, a_m, "a", "a_m")
    _check_pair(b, b_m, "b", "b_m")
    dtype = a.dtype
    wide = torch.promote_types(dtype, torch.float32)
    a, b = F.normalize(a.to(wide), dim=1), F.normalize(b.to(wide), dim=1)
    logits = a @ b.T / temperature  # (N, N)
    eye = torch.eye(a.shape[0], device=a.device, dtype=wide)
    with torch.no_grad():
        a_m = F.normalize(a_m.detach().to(wide), dim=1)
        b_m = F.normalize(b_m.detach().to(wide), dim=1)
        s_m = a_m @ b_m.T / temperature
        y_i2t = alpha * s_m.softmax(dim=1) + (1 - alpha) * eye
        y_t2i = alpha * s_m.T.softmax(dim=1) + (1 - alpha) * eye
    i2t = -(y_i2t * logits.log_softmax(dim=1)).sum(dim=1).mean()
    t2i = -(y_t2i * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return ((i2t + t2i) / 2).to(dtype)


__all__ += ["itc_distill_loss"]
