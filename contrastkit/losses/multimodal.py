"""Losses across modalities beyond CLIP's: Symile's multilinear product, GRAM's volume,
CLSR's intra/inter-modal NCE, Mod-X's similarity distillation, CreamFL's global contrast,
ALBEF's momentum-distilled contrast.

See :mod:`contrastkit.losses` for the conventions every loss follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import check_matrix, check_same_shape, check_temperature
from .core import _check_pair

__all__ = [
    "symile_loss",
    "gram_volume",
    "gram_loss",
    "intra_inter_nce",
    "similarity_distillation",
    "global_contrast",
    "itc_distill_loss",
    "cmcl_loss",
    "local_global_nce",
]


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


def cmcl_loss(
    image: Tensor,
    positives: Tensor,
    negatives: Tensor | None = None,
    temperature: float | Tensor = 0.07,
) -> Tensor:
    """UNIMO's cross-modal contrastive loss: several positive texts per image, plus hard
    negative texts that only that image sees.

    Reference: Wei Li, Can Gao, Guocheng Niu, Xinyan Xiao, Hao Liu, Jiachen Liu, Hua Wu,
    Haifeng Wang, "UNIMO: Towards Unified-Modal Understanding and Generation via Cross-Modal
    Contrastive Learning", ACL 2021, https://arxiv.org/abs/2012.15409.

    With cosines ``d`` and the N*P positive texts of the batch as shared candidates::

        i2t_i = -log[ sum_{p} e^{d(v_i, w_ip)/t} /
                      ( sum_{j,p} e^{d(v_i, w_jp)/t} + sum_k e^{d(v_i, n_ik)/t} ) ]
        t2i_ip = CE over the N images, target i (each positive text finds its image)
        loss = ( mean_i i2t_i + mean_ip t2i_ip ) / 2

    With ``P = 1`` and no negatives this is ``clip_loss``.

    Args:
        image: ``(N, D)`` image embeddings.
        positives: ``(N, P, D)`` positive texts of each image (its caption, paraphrases).
        negatives: ``(N, K, D)`` hard negative texts of each image (rewrites), or None.
        temperature: ``t > 0``.

    Raises:
        ValueError: bad temperature, shapes that do not pair up (the argument named).
    """
    check_temperature(temperature)
    check_matrix(image, "image")
    if not isinstance(positives, Tensor) or positives.ndim != 3:
        raise ValueError(f"positives must be a 3-D (N, P, D) tensor, got {_shape(positives)}")
    n, p, d = positives.shape
    if n != image.shape[0] or d != image.shape[1] or p < 1:
        raise ValueError(
            f"positives must be (N, P >= 1, D) with image's N, D = {tuple(image.shape)}, "
            f"got {tuple(positives.shape)}"
        )
    if negatives is not None:
        if not isinstance(negatives, Tensor) or negatives.ndim != 3:
            raise ValueError(f"negatives must be a 3-D (N, K, D) tensor, got {_shape(negatives)}")
        if negatives.shape[0] != n or negatives.shape[2] != d:
            raise ValueError(
                f"negatives must be (N, K, D) with image's N, D = {tuple(image.shape)}, "
                f"got {tuple(negatives.shape)}"
            )
    dtype = image.dtype
    wide = torch.promote_types(dtype, torch.float32)
    v = F.normalize(image.to(wide), dim=-1)  # (N, D)
    w = F.normalize(positives.to(wide), dim=-1).reshape(n * p, d)  # (N*P, D)
    logits = v @ w.T / temperature  # (N, N*P)
    owner = torch.arange(n, device=image.device).repeat_interleave(p)  # (N*P,)
    own = owner[None, :] == torch.arange(n, device=image.device)[:, None]  # (N, N*P)
    pos = logits.masked_fill(~own, float("-inf")).logsumexp(dim=1)  # (N,)
    everything = logits
    if negatives is not None and negatives.shape[1] > 0:
        u = F.normalize(negatives.to(wide), dim=-1)  # (N, K, D)
        hard = torch.einsum("nd,nkd->nk", v, u) / temperature  # (N, K)
        everything = torch.cat([logits, hard], dim=1)
    i2t = (everything.logsumexp(dim=1) - pos).mean()
    t2i = F.cross_entropy(logits.T, owner)
    return ((i2t + t2i) / 2).to(dtype)


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def local_global_nce(
    g: Tensor,
    local: Tensor,
    mask: Tensor | None = None,
    temperature: float | Tensor = 0.07,
) -> Tensor:
    """TCL's local mutual-information term: each global embedding picks out its own locals.

    Reference: Yang, Duan, Tran, Xu, Chanda, Chen, Zeng, Chilimbi, Huang, "Vision-Language
    Pre-Training with Triple Contrastive Learning", CVPR 2022, https://arxiv.org/abs/2202.10401
    (``in_batch_g2l_loss`` in github.com/uta-smile/TCL).

    With ``s_ij = g_i . l_ij / t`` (sample i's global against its own local j) and
    ``s_ikm = g_i . l_km / t`` (against local m of another sample k)::

        l_ij = -log( e^{s_ij} / (e^{s_ij} + sum_{k != i, m valid} e^{s_ikm}) )
        loss = mean_i ( mean_{j valid} l_ij )

    Every valid local of every *other* sample is a negative; invalid locals (text padding) are
    neither positives nor negatives.

    Args:
        g: ``(N, D)`` global embeddings. local: ``(N, M, D)`` local embeddings (patches, tokens).
        mask: ``(N, M)`` bool, True where a local is real; ``None``: all are. Every row needs
            at least one real local.
        temperature: ``t > 0``.

    Raises:
        ValueError: bad temperature, shapes or mask (the argument named).
    """
    check_temperature(temperature)
    check_matrix(g, "g", min_rows=2)
    if not isinstance(local, Tensor) or local.ndim != 3 or not local.is_floating_point():
        raise ValueError(
            f"local must be a floating (N, M, D) tensor, got {getattr(local, 'shape', local)}"
        )
    if local.shape[0] != g.shape[0] or local.shape[2] != g.shape[1]:
        raise ValueError(
            f"local must be (N, M, D) with g's N and D {tuple(g.shape)}, got {tuple(local.shape)}"
        )
    n, m, _ = local.shape
    if mask is None:
        mask = torch.ones(n, m, dtype=torch.bool, device=g.device)
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (n, m):
        raise ValueError(f"mask must be a bool (N, M) = {(n, m)} tensor, got {mask!r:.80}")
    if not bool(mask.any(dim=1).all()):
        raise ValueError("mask must keep at least one local in every row")
    dtype = g.dtype
    wide = torch.promote_types(dtype, torch.float32)
    g = F.normalize(g.to(wide), dim=1)
    local = F.normalize(local.to(wide), dim=2)
    s = torch.einsum("id,kmd->ikm", g, local) / temperature  # (N, N, M)
    pos = s.diagonal(dim1=0, dim2=1).T  # (N, M): s_ij
    other = ~torch.eye(n, dtype=torch.bool, device=g.device)[:, :, None] & mask[None]  # (N, N, M)
    neg = s.masked_fill(~other, float("-inf")).reshape(n, n * m)  # (N, N*M)
    neg_lse = neg.logsumexp(dim=1, keepdim=True)  # (N, 1): log sum over the negatives
    per_local = torch.logaddexp(pos, neg_lse) - pos  # (N, M): -log softmax of the positive
    maskf = mask.to(wide)
    per_row = (per_local * maskf).sum(dim=1) / maskf.sum(dim=1)
    return per_row.mean().to(dtype)
