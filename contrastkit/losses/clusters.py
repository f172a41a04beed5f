"""Cluster discrimination: MLCD's multi-label loss over cluster centres, SwAV's swapped
prediction of equipartitioned cluster codes, C3-GAN's contrast of embeddings with cluster
centroids, DINO's centred self-distillation over prototypes (SlotCon, Mugs), SlotCon's slot
InfoNCE and pixel-to-prototype contrast.

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..prototypes import sinkhorn
from ..utils import check_matrix, check_temperature

__all__ = [
    "mlcd_loss",
    "swav_loss",
    "swav_multicrop_loss",
    "centroid_nce",
    "centred_distillation",
    "slot_contrast_loss",
    "pixel_prototype_nce",
]


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


def swav_loss(
    z1: Tensor,
    z2: Tensor,
    prototypes: Tensor,
    temperature: float = 0.1,
    eps: float = 0.05,
    iters: int = 3,
) -> Tensor:
    """SwAV's swapped prediction: each view predicts the other's equipartitioned cluster code.

    Reference: Mathilde Caron, Ishan Misra, Julien Mairal, Priya Goyal, Piotr Bojanowski,
    Armand Joulin, "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments", NeurIPS 2020, https://arxiv.org/abs/2006.09882.

    With ``s_v = cos(z_v, c)`` the ``(N, K)`` cosines of view ``v`` to the ``K`` prototypes and
    ``q_v = sinkhorn(s_v, eps)`` its code (no gradient; every prototype gets ~N/K samples)::

        loss = -1/2 mean_i [ sum_k q2_ik log softmax_k(s1_i / t)
                           + sum_k q1_ik log softmax_k(s2_i / t) ]

    The codes come from :func:`contrastkit.prototypes.sinkhorn` (log space) and the predictions
    from ``log_softmax`` on ``s / t``, so ``t = 0.01`` does not overflow. Gradients reach the
    embeddings and the prototypes through the predictions only.

    Args:
        z1, z2: ``(N, D)`` embeddings of two views of the same ``N`` samples.
        prototypes: ``(K, D)`` prototype vectors (normalised inside).
        temperature: ``t > 0`` of the prediction softmax (0.1 in SwAV).
        eps: Sinkhorn's entropic regularisation ``> 0`` (0.05 in SwAV).
        iters: Sinkhorn iterations (3 in SwAV).

    Returns:
        The scalar loss, in the dtype of ``z1`` (computed in float32 or wider).

    Raises:
        ValueError: bad temperature, shapes that do not match, NaN inputs.
        TypeError: non-tensor inputs.

    Example:
        >>> z1, z2, c = torch.randn(64, 16), torch.randn(64, 16), torch.randn(10, 16)
        >>> loss = swav_loss(z1, z2, c, temperature=0.1)
    """
    check_temperature(temperature)
    check_matrix(z1, "z1")
    check_matrix(z2, "z2")
    check_matrix(prototypes, "prototypes")
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if prototypes.shape[1] != z1.shape[1]:
        raise ValueError(
            f"prototypes must be (K, {z1.shape[1]}) like z1's D, got {tuple(prototypes.shape)}"
        )
    for name, t in (("z1", z1), ("z2", z2), ("prototypes", prototypes)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite (got NaN or inf)")
    dtype = z1.dtype
    wide = torch.promote_types(dtype, torch.float32)
    c = F.normalize(prototypes.to(wide), dim=1)
    s1 = F.normalize(z1.to(wide), dim=1) @ c.T  # (N, K)
    s2 = F.normalize(z2.to(wide), dim=1) @ c.T
    with torch.no_grad():
        q1, q2 = sinkhorn(s1.detach(), eps, iters), sinkhorn(s2.detach(), eps, iters)
    loss = -0.5 * (
        (q2 * F.log_softmax(s1 / temperature, dim=1)).sum(1)
        + (q1 * F.log_softmax(s2 / temperature, dim=1)).sum(1)
    )
    return loss.mean().to(dtype)


def swav_multicrop_loss(
    crops: Tensor,
    prototypes: Tensor,
    n_global: int = 2,
    temperature: float = 0.1,
    eps: float = 0.05,
    iters: int = 3,
) -> Tensor:
    """SwAV with multi-crop: every crop predicts the code of every *other* global crop.

    Reference: Mathilde Caron et al., "Unsupervised Learning of Visual Features by Contrasting
    Cluster Assignments", NeurIPS 2020, https://arxiv.org/abs/2006.09882 (sec. 3.2, Eq. 6).

    Codes come from the ``G = n_global`` full-resolution crops only (``q_g = sinkhorn(s_g)``,
    no gradient); all ``V`` crops, the low-resolution local ones included, predict them::

        loss = mean_{g < G} mean_{v != g} [ -mean_i sum_k q_g,ik log softmax_k(s_v,i / t) ]

    With ``V = G = 2`` this is :func:`swav_loss`. Predictions are ``log_softmax`` on ``s / t``
    and codes come from the log-space Sinkhorn, so ``t = 0.01`` does not overflow.

    Args:
        crops: ``(V, N, D)`` embeddings of ``V`` crops of the same ``N`` samples, the global
            crops first (a list of ``(N, D)`` tensors is stacked).
        prototypes: ``(K, D)`` prototype vectors (normalised inside).
        n_global: ``G``, how many leading crops are global (give codes); ``1 <= G <= V``,
            ``V >= 2``. 2 in SwAV.
        temperature: ``t > 0`` of the prediction softmax (0.1 in SwAV).
        eps: Sinkhorn's entropic regularisation ``> 0`` (0.05 in SwAV).
        iters: Sinkhorn iterations (3 in SwAV).

    Returns:
        The scalar loss, in the dtype of ``crops`` (computed in float32 or wider).

    Raises:
        ValueError: bad temperature, ``crops`` not ``(V, N, D)`` with ``V >= 2``, ``n_global``
            out of range, prototypes of another ``D``, NaN inputs.
        TypeError: non-tensor inputs.

    Example:
        >>> crops, c = torch.randn(6, 64, 16), torch.randn(10, 16)   # 2 global + 4 local crops
        >>> loss = swav_multicrop_loss(crops, c, n_global=2, temperature=0.1)
    """
    check_temperature(temperature)
    if isinstance(crops, (list, tuple)):
        if not all(isinstance(z, Tensor) for z in crops):
            raise TypeError("crops must be a Tensor (V, N, D) or a list of (N, D) tensors")
        crops = torch.stack(list(crops))
    if not isinstance(crops, Tensor):
        raise TypeError(f"crops must be a Tensor (V, N, D), got {type(crops).__name__}")
    if crops.ndim != 3 or crops.shape[0] < 2 or crops.shape[1] < 1:
        raise ValueError(f"crops must be (V, N, D) with V >= 2, got {tuple(crops.shape)}")
    check_matrix(prototypes, "prototypes")
    if prototypes.shape[1] != crops.shape[2]:
        raise ValueError(
            f"prototypes must be (K, {crops.shape[2]}) like crops' D, got {tuple(prototypes.shape)}"
        )
    v = crops.shape[0]
    if isinstance(n_global, bool) or not isinstance(n_global, int) or not 1 <= n_global <= v:
        raise ValueError(
            f"n_global must be an int in [1, {v}] (crops has V = {v}), got {n_global!r}"
        )
    for name, t in (("crops", crops), ("prototypes", prototypes)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite (got NaN or inf)")
    dtype = crops.dtype
    wide = torch.promote_types(dtype, torch.float32)
    c = F.normalize(prototypes.to(wide), dim=1)
    s = F.normalize(crops.to(wide), dim=2) @ c.T  # (V, N, K)
    with torch.no_grad():
        q = sinkhorn(s[:n_global].detach(), eps, iters)  # (G, N, K), one problem per crop
    log_p = F.log_softmax(s / temperature, dim=2)  # (V, N, K)
    terms = [-(q[g] * log_p[j]).sum(1).mean() for g in range(n_global) for j in range(v) if j != g]
    return (torch.stack(terms).mean()).to(dtype)


def centroid_nce(h: Tensor, centroids: Tensor, target: Tensor, temperature: float = 0.1) -> Tensor:
    """Contrast each embedding with ``K`` cluster centroids: pull it to its own, push the rest.

    Reference (as C3-GAN's information loss): Yunji Kim, Jung-Woo Ha, "Contrastive Fine-grained
    Class Clustering via Generative Adversarial Networks", ICLR 2022,
    https://arxiv.org/abs/2112.14971.

    With ``s_k = cos(h, c_k) / t``::

        loss = mean_i [ -log softmax_k(s_i)[target_i] ]  =  cross_entropy(s, target)

    A ``logsumexp`` (``cross_entropy``) on ``s / t``, so ``t = 0.01`` does not overflow.

    Args:
        h: ``(N, D)`` embeddings. centroids: ``(K, D)`` (normalised inside).
        target: ``(N,)`` long, each embedding's centroid in ``[0, K)``.
        temperature: ``t > 0`` (0.1 in C3-GAN).

    Returns:
        The scalar loss, in the dtype of ``h`` (computed in float32 or wider).

    Raises:
        ValueError: bad temperature, shapes that do not match, targets out of range, NaN inputs.
        TypeError: non-tensor inputs or a non-integer ``target``.

    Example:
        >>> h, c = torch.randn(8, 16), torch.randn(10, 16)
        >>> loss = centroid_nce(h, c, torch.randint(0, 10, (8,)), temperature=0.1)
    """
    check_temperature(temperature)
    check_matrix(h, "h")
    check_matrix(centroids, "centroids")
    if not isinstance(target, Tensor) or target.is_floating_point() or target.dtype == torch.bool:
        raise TypeError("target must be an integer tensor (N,) of centroid indices")
    if centroids.shape[1] != h.shape[1]:
        raise ValueError(f"h and centroids must share D, got {h.shape[1]} and {centroids.shape[1]}")
    if target.shape != (h.shape[0],):
        raise ValueError(f"target must be ({h.shape[0]},), got {tuple(target.shape)}")
    if ((target < 0) | (target >= centroids.shape[0])).any():
        raise ValueError(f"target must be in [0, {centroids.shape[0]}) (one per centroid)")
    if not (torch.isfinite(h).all() and torch.isfinite(centroids).all()):
        raise ValueError("h and centroids must be finite (got NaN or inf)")
    dtype = h.dtype
    wide = torch.promote_types(dtype, torch.float32)
    s = F.normalize(h.to(wide), dim=1) @ F.normalize(centroids.to(wide), dim=1).T  # (N, K)
    return F.cross_entropy(s / temperature, target.long()).to(dtype)


def centred_distillation(
    student_scores: Tensor,
    teacher_scores: Tensor,
    center: Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.07,
) -> Tensor:
    """DINO's self-distillation over prototypes: the student's distribution over ``K``
    prototypes must predict the teacher's centred, sharpened one.

    SlotCon's grouping loss (each pixel against the same pixel in the other view) and Mugs'
    group loss (each image against its other view) are this loss.

    Reference: Mathilde Caron et al., "Emerging Properties in Self-Supervised Vision
    Transformers" (DINO), ICCV 2021, https://arxiv.org/abs/2104.14294.

    ``mean_p  - sum_k softmax((t_pk - c_k) / t_t) log softmax(s_pk / t_s)``, with
    ``log_softmax``/``softmax`` on ``score / temperature`` (no ``exp`` overflow at t = 0.01).

    Args:
        student_scores: ``(P, K)`` cosines of P items (pixels, images) to K prototypes.
        teacher_scores: ``(P, K)`` the teacher's cosines for the matching items (the other
            view); no gradient flows into them.
        center: ``(K,)`` running mean of the teacher's scores.
        student_temperature, teacher_temperature: ``> 0``; 0.1 and 0.07 in the paper.

    Raises:
        ValueError: shapes that differ or are not ``(P, K)``/``(K,)``, non-positive
            temperatures.
    """
    check_temperature(student_temperature, "student_temperature")
    check_temperature(teacher_temperature, "teacher_temperature")
    if student_scores.ndim != 2 or student_scores.shape != teacher_scores.shape:
        raise ValueError(
            "student_scores and teacher_scores must both be (P, K), got "
            f"{tuple(student_scores.shape)} and {tuple(teacher_scores.shape)}"
        )
    if center.shape != student_scores.shape[1:]:
        raise ValueError(f"center must be ({student_scores.shape[1]},), got {tuple(center.shape)}")
    dtype = torch.promote_types(student_scores.dtype, torch.float32)
    target = F.softmax(
        (teacher_scores.detach().to(dtype) - center.to(dtype)) / teacher_temperature, 1
    )
    log_p = F.log_softmax(student_scores.to(dtype) / student_temperature, dim=1)
    return -(target * log_p).sum(1).mean()


def slot_contrast_loss(
    q: Tensor, k: Tensor, win_q: Tensor, win_k: Tensor, temperature: float = 0.2
) -> Tensor:
    """SlotCon's slot InfoNCE, restricted to slots that exist in both views.

    Reference: Xin Wen, Bingchen Zhao, Anlin Zheng, Xiangyu Zhang, Xiaojuan Qi, "Self-Supervised
    Visual Representation Learning with Semantic Grouping", NeurIPS 2022,
    https://arxiv.org/abs/2205.15288.

    Slot ``(n, j)`` of view 1 (query, after the predictor) must pick the teacher slot
    ``(n, j)`` of view 2 among all teacher slots of the batch that win at least one pixel in
    view 2. Queries whose slot wins no pixel in either view are dropped. Scaled by
    ``2 * temperature`` as in the code.

    Args:
        q: ``(N, K, D)`` student slots (predicted). k: ``(N, K, D)`` teacher slots.
        win_q, win_k: ``(N, K)`` bool, slot j of image n wins >= 1 pixel in that view.
        temperature: ``> 0``; 0.2 in the paper.

    Returns:
        A scalar; 0 (with a graph) when no slot is shared by both views.

    Raises:
        ValueError: mismatched shapes, ``q`` not 3-D, non-positive temperature.
    """
    check_temperature(temperature, "temperature")
    if q.ndim != 3 or q.shape != k.shape:
        raise ValueError(
            f"q and k must both be (N, K, D), got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if win_q.shape != q.shape[:2] or win_k.shape != q.shape[:2]:
        raise ValueError(
            f"win_q and win_k must be {tuple(q.shape[:2])}, got {tuple(win_q.shape)} and "
            f"{tuple(win_k.shape)}"
        )
    dtype = torch.promote_types(q.dtype, torch.float32)
    q = F.normalize(q.flatten(0, 1).to(dtype), dim=1)  # (N*K, D)
    k = F.normalize(k.detach().flatten(0, 1).to(dtype), dim=1)
    keep_k = win_k.flatten()  # candidate keys: teacher slots present in view 2
    query = (win_q & win_k).flatten()  # queries whose own key is a candidate
    if not query.any():
        return q.sum() * 0.0
    logits = q[query] @ k[keep_k].T / temperature  # (Q, candidates)
    labels = keep_k.long().cumsum(0)[query] - 1  # position of the own slot among candidates
    return F.cross_entropy(logits, labels) * (2 * temperature)


def pixel_prototype_nce(
    pixels: Tensor,
    labels: Tensor,
    prototypes: Tensor,
    valid: Tensor | None = None,
    temperature: float = 0.1,
) -> Tensor:
    """InfoNCE of each pixel against class prototypes: its own class's prototype is the positive.

    Reference: Ye Du, Zehua Fu, Qingjie Liu, Yunhong Wang, "Weakly Supervised Semantic
    Segmentation by Pixel-to-Prototype Contrast", CVPR 2022, https://arxiv.org/abs/2110.07110.

    ``mean_p [logsumexp_c(e_p . rho_c / t) - e_p . rho_{y_p} / t]`` over prototypes ``c`` in
    ``valid``, with ``e`` and ``rho`` L2-normalised inside.

    Args:
        pixels: ``(P, D)`` pixel embeddings. labels: ``(P,)`` pseudo-labels in ``[0, C)``.
        prototypes: ``(C, D)`` class prototypes (detach them: they are targets).
        valid: ``(C,)`` bool, prototypes that exist in the batch (default: all); every label
            must point at a valid prototype.
        temperature: ``> 0``; 0.1 in the paper.

    Raises:
        ValueError: wrong shapes, labels out of range or on an invalid prototype, a
            non-positive temperature.

    Example:
        >>> pixel_prototype_nce(torch.randn(50, 8), torch.randint(0, 3, (50,)), torch.randn(3, 8))
    """
    check_temperature(temperature)
    if pixels.ndim != 2 or prototypes.ndim != 2 or pixels.shape[1] != prototypes.shape[1]:
        raise ValueError(
            f"pixels (P, D) and prototypes (C, D) must share D, got {tuple(pixels.shape)} and "
            f"{tuple(prototypes.shape)}"
        )
    if labels.shape != pixels.shape[:1] or labels.is_floating_point():
        raise ValueError(f"labels must be ({pixels.shape[0]},) integers, got {tuple(labels.shape)}")
    c = prototypes.shape[0]
    if valid is None:
        valid = torch.ones(c, dtype=torch.bool, device=pixels.device)
    if valid.shape != (c,):
        raise ValueError(f"valid must be ({c},) bool, got {tuple(valid.shape)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise ValueError(f"labels must be in [0, {c})")
    if not bool(valid[labels].all()):
        raise ValueError("labels point at a prototype that valid marks as missing")
    dtype = torch.promote_types(pixels.dtype, torch.float32)
    e = F.normalize(pixels.to(dtype), dim=1)
    rho = F.normalize(prototypes.to(dtype), dim=1)
    logits = e @ rho.T / temperature  # (P, C)
    logits = logits.masked_fill(~valid, float("-inf"))
    return F.cross_entropy(logits, labels)
