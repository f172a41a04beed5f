"""The InfoNCE family: NT-Xent (SimCLR), InfoNCE with shared or per-query negatives (MoCo),
SupCon, CLIP's symmetric loss, alignment + uniformity, and BYOL/SimSiam's negative cosine.

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_labels, check_matrix, check_same_shape, check_temperature

__all__ = [
    "nt_xent",
    "info_nce",
    "supcon",
    "class_pair_nce",
    "clip_loss",
    "align_uniform_loss",
    "negative_cosine",
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


def class_pair_nce(
    z: Tensor,
    labels: Tensor,
    pair_labels: Tensor,
    gates: Tensor | None = None,
    temperature: float = 0.1,
) -> Tensor:
    """Multi-positive InfoNCE between two classes, in a gated subspace (Hydra / SimLAP).

    Reference: Jiantao Wu, Sara Atito, Zhenhua Feng, Shentong Mo, Josef Kittler, Muhammad Awais,
    "Rethinking Positive Pairs in Contrastive Learning", arXiv 2024,
    https://arxiv.org/abs/2410.18200.

    Anchor ``i`` has class ``a = labels[i]`` and is paired with class ``b = pair_labels[i]``
    (any class: ``b = a`` is SupCon-like). Its positives are the other samples of class ``b``;
    its negatives the samples of neither ``a`` nor ``b``. With ``u = z / |z|`` and the anchor's
    gate ``g_i`` in ``(0, 1)^D``::

        s_ij = (g_i * u_i) . (g_i * u_j) / t          similarity inside the gated subspace
        l_ip = log( e^{s_ip} + sum_{n in Neg(i)} e^{s_in} ) - s_ip
        loss = mean over all (anchor, positive) pairs of l_ip

    computed as ``softplus(logsumexp_n s_in - s_ip)``, which never overflows.

    Args:
        z: ``(N, D)`` embeddings (normalised inside).
        labels: ``(N,)`` integer class of each sample.
        pair_labels: ``(N,)`` integer class each anchor is paired with.
        gates: ``(N, D)`` per-anchor gates in ``[0, 1]``, or None for no gate (all ones).
        temperature: ``t > 0``; 0.1 in the paper's code.

    Returns:
        The scalar loss (0, still attached to the graph, when no anchor has a positive).

    Raises:
        ValueError: bad temperature, wrong shapes or an empty batch.

    Example:
        >>> z, y = torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
        >>> loss = class_pair_nce(z, y, (y + 1) % 4, torch.rand(8, 16))
    """
    check_temperature(temperature)
    check_matrix(z, "z", min_rows=2)
    n = z.shape[0]
    check_labels(labels, n)
    check_labels(pair_labels, n, "pair_labels")
    if gates is not None:
        check_same_shape(z, gates, "z", "gates")
    u = F.normalize(z.float(), dim=1)  # float32 keeps bf16 inputs accurate
    anchors = u if gates is None else u * gates.float().square()  # (g * u_i) . (g * u_j)
    logits = anchors @ u.T / temperature  # (N, N)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    positives = (pair_labels[:, None] == labels[None, :]) & ~eye  # (N, N): class b
    negatives = (labels[:, None] != labels[None, :]) & (pair_labels[:, None] != labels[None, :])
    if not positives.any():
        return z.sum() * 0.0
    has_neg = negatives.any(dim=1, keepdim=True)  # (N, 1)
    # rows without negatives take a finite dummy logsumexp (its gradient would be NaN), then -inf
    neg_lse = logits.masked_fill(~negatives, float("-inf")).masked_fill(~has_neg, 0.0)
    neg_lse = torch.where(has_neg, neg_lse.logsumexp(dim=1, keepdim=True), float("-inf"))
    per_pair = F.softplus(neg_lse - logits)  # (N, N): l_ip for every candidate j
    return per_pair[positives].mean().to(z.dtype)


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
    from ..metrics import alignment, uniformity

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
