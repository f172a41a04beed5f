"""M5Product / SCALE: many modalities, some missing, fused with per-sample importance weights.

Reference: Xiao Dong, Xunlin Zhan, Yangxin Wu, Yunchao Wei, Michael C. Kampffmeyer, Xiaoyong
Wei, Minlong Lu, Yaowei Wang, Xiaodan Liang, "M5Product: Self-harmonized Contrastive Learning
for E-commercial Multi-modal Pretraining", CVPR 2022, https://arxiv.org/abs/2109.04275.

SCALE encodes five modalities of a product (image, text, table, video, audio), fuses them and
weights each modality *per sample* by how its embedding relates to the others. From the
reference code (``graph_construct_per_sample``), with ``h_m`` the pooled embedding of modality m:

    G_ij = cos(h_i, h_j)                     (M, M) per sample
    G'   = G * softmax_row(G)                elementwise
    G'   = G' / |G'_row|                     each row L2-normalised
    w_m  = G'_mm                             the self-harmonised weight of modality m

A modality that agrees with nobody keeps all its row's softmax mass on itself, so its weight
is ~1, the *largest* (``scale_weights``; the unit test checks it). In the paper the weights
scale the masked-modelling losses; nothing guarantees that a noisy modality is down-weighted.

What this module trains (the toy version of the idea, our construction): per-modality
encoders into one space; the fusion ``f = sum_m w_m h_m`` over the *present* modalities; and a
leave-one-out contrastive objective: the fusion of all modalities but m must pick modality m's
own embedding out of the batch (``clip_loss``), averaged over m and over the rows where m is
present. The weights are

    "equal":     w_m = 1 / (number of present modalities)          (the baseline)
    "scale":     SCALE's w_m above, renormalised over the present modalities
    "agreement": w = softmax_m(s * mean_{j != m} G_mj + b_m)        learned s and b_m

"agreement" is our learned importance weighting: a learned bias per modality (a modality that
never helps the others gets a low ``b_m``) plus a learned sharpness ``s`` on how much the
modality agrees with the rest of *this* sample (a corrupted entry disagrees). Both are trained
by the leave-one-out loss: a fusion that leans on noise cannot pick out the held-out modality.

Scaled down: generated objects (``make_multimodal``: image, caption, tone, table) plus one
pure-noise "sensor" modality instead of 6 million products; MLP encoders instead of a
6-layer transformer per modality; a weighted sum instead of a cross-modal transformer; the
contrastive task only (no masked modelling); a few hundred steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import clip_loss
from ..models import MLP
from ..utils import eval_mode
from .base import Example, Method

__all__ = [
    "M5Product",
    "WEIGHTINGS",
    "add_noise_modality",
    "agreement_weights",
    "corrupt_entries",
    "scale_weights",
    "similarity_graph",
]

WEIGHTINGS = ("equal", "scale", "agreement")


def _check(h: Tensor, mask: Tensor | None) -> Tensor:
    if not isinstance(h, Tensor) or h.ndim != 3 or not h.is_floating_point():
        raise ValueError(
            f"h must be a float (N, M, D) tensor of embeddings, got {getattr(h, 'shape', h)}"
        )
    if mask is None:
        return torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
    if mask.shape != h.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a bool (N, M) = {tuple(h.shape[:2])} tensor, got "
            f"{tuple(mask.shape)} {mask.dtype}"
        )
    return mask


def similarity_graph(h: Tensor, mask: Tensor | None = None) -> Tensor:
    """``(N, M, M)`` per-sample cosine similarities of the modality embeddings ``h (N, M, D)``.

    Entries that involve a missing modality (``mask`` False) are 0.
    """
    mask = _check(h, mask)
    z = F.normalize(h, dim=-1)
    g = z @ z.transpose(1, 2)  # (N, M, M)
    pair = mask[:, :, None] & mask[:, None, :]
    return g.masked_fill(~pair, 0.0)


def scale_weights(h: Tensor, mask: Tensor | None = None) -> Tensor:
    """SCALE's self-harmonised weights ``(N, M)`` (see the module docstring); 0 where missing.

    ``G' = G * softmax_row(G)`` over the present modalities, rows L2-normalised, ``w_m = G'_mm``.

    Example:
        >>> h = torch.tensor([[[1., 0.], [1., 0.], [1., 0.], [1., 0.], [0., 1.]]])
        >>> scale_weights(h).argmax().item()  # the orthogonal one gets the top weight
        4
    """
    mask = _check(h, mask)
    g = similarity_graph(h, mask)
    pair = mask[:, :, None] & mask[:, None, :]
    soft = torch.softmax(g.masked_fill(~pair, float("-inf")), dim=-1).nan_to_num(0.0)
    gh = F.normalize(g * soft, dim=-1)  # (N, M, M)
    return gh.diagonal(dim1=1, dim2=2) * mask  # (N, M)


def agreement_weights(
    h: Tensor, mask: Tensor | None, sharpness: Tensor | float, bias: Tensor | None = None
) -> Tensor:
    """``(N, M)`` weights ``softmax_m(sharpness * agreement_m + bias_m)`` over present modalities.

    ``agreement_m`` is the mean cosine of modality m with the other present modalities of the
    same sample (0 when it is alone). Rows sum to 1; missing modalities get 0.
    """
    mask = _check(h, mask)
    g = similarity_graph(h, mask)
    others = mask.sum(dim=1, keepdim=True) - 1  # (N, 1) present modalities besides m
    self_sim = g.diagonal(dim1=1, dim2=2)  # (N, M): 1 where present
    agreement = (g.sum(dim=2) - self_sim) / others.clamp(min=1)  # (N, M)
    logits = sharpness * agreement + (0 if bias is None else bias)
    return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1).nan_to_num(0.0)


def add_noise_modality(
    inputs: Mapping[str, Tensor], name: str = "sensor", dim: int = 8, seed: int = 0
) -> dict[str, Tensor]:
    """A copy of ``inputs`` with one more modality of pure Gaussian noise ``(N, dim)``.

    It carries no information about anything: the modality learned weights should find.
    """
    if name in inputs:
        raise ValueError(f"name must be a new modality, {name!r} is already in inputs")
    n = next(iter(inputs.values())).shape[0]
    g = torch.Generator().manual_seed(seed + 90_001)
    return {**inputs, name: torch.randn(n, dim, generator=g)}


def corrupt_entries(
    inputs: Mapping[str, Tensor],
    mask: Tensor,
    fraction: float,
    seed: int = 0,
    vocab_size: int | None = None,
) -> tuple[dict[str, Tensor], Tensor]:
    """Replace one present modality of a ``fraction`` of rows by noise (the notebook's corruption).

    Float modalities get Gaussian noise with the modality's mean and std; token ids get random
    non-padding ids below ``vocab_size`` (their padding kept).

    Returns:
        ``(inputs, corrupted)``: a copy of the inputs and an ``(N, M)`` bool, True where an
        entry was replaced (columns in the order of ``inputs``).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    names = list(inputs)
    n, m = mask.shape
    if m != len(names):
        raise ValueError(f"mask must have one column per modality ({len(names)}), got {m}")
    g = torch.Generator().manual_seed(seed + 70_001)
    rows = torch.randperm(n, generator=g)[: int(round(fraction * n))]
    scores = torch.rand(len(rows), m, generator=g).masked_fill(~mask[rows], -1.0)
    cols = scores.argmax(dim=1)  # a random present modality of each chosen row
    corrupted = torch.zeros(n, m, dtype=torch.bool)
    corrupted[rows, cols] = mask[rows, cols]
    out = {k: v.clone() for k, v in inputs.items()}
    for j, name in enumerate(names):
        idx = corrupted[:, j].nonzero().flatten()
        if not len(idx):
            continue
        x = out[name]
        if x.is_floating_point():
            noise = torch.randn((len(idx), *x.shape[1:]), generator=g)
            x[idx] = noise * x.std() + x.mean()
        else:
            if vocab_size is None:
                raise ValueError(f"vocab_size is needed to corrupt the token modality {name!r}")
            ids = torch.randint(2, vocab_size, x[idx].shape, generator=g)
            x[idx] = torch.where(x[idx] != 0, ids, x[idx])
    return out, corrupted


class M5Product(Method):
    """Per-modality encoders, a weighted fusion, and the leave-one-out contrastive loss.

    Args:
        encoders: one module per modality, in the batch's order, each ``(N, ...) -> (N, d_m)``
            with an ``out_dim`` attribute.
        embed_dim: size of the shared space.
        weighting: ``"equal"`` (baseline), ``"scale"`` (SCALE's formula) or ``"agreement"``
            (learned importance; see the module docstring).
        temperature: of the contrastive loss.
        sharpness: the starting ``s`` of ``"agreement"`` (learned from there).
        learn_bias: learn the per-modality bias ``b_m`` of ``"agreement"`` (else it stays 0).

    The batch is ``(*inputs, mask)``: one tensor per modality, then the ``(N, M)`` bool mask.

    Example:
        >>> model = M5Product([img_enc, txt_enc, audio_enc], weighting="agreement")
        >>> fit(model, (*data.tensors(), data.mask), steps=300)
    """

    input_kind = "modalities"  # the modality tensors, then the (N, M) bool mask of present ones

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        embed_dim: int = 32,
        weighting: str = "agreement",
        temperature: float = 0.1,
        sharpness: float = 5.0,
        learn_bias: bool = True,
    ) -> None:
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        if len(encoders) < 2:
            raise ValueError(f"encoders must hold >= 2 modalities, got {len(encoders)}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not sharpness > 0:
            raise ValueError(f"sharpness must be > 0, got {sharpness}")
        self.encoders = nn.ModuleList(encoders)
        self.projs = nn.ModuleList(nn.Linear(e.out_dim, embed_dim) for e in encoders)
        self.weighting, self.temperature = weighting, temperature
        m = len(encoders)
        learn = weighting == "agreement"
        self.bias = nn.Parameter(torch.zeros(m), requires_grad=learn and learn_bias)
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(sharpness)), requires_grad=learn)

    @property
    def n_modalities(self) -> int:
        return len(self.encoders)

    def encode(self, inputs: Sequence[Tensor]) -> Tensor:
        """``(N, M, D)`` unit embeddings, one per modality (missing ones are encoded zeros)."""
        if len(inputs) != self.n_modalities:
            raise ValueError(f"inputs must hold {self.n_modalities} modalities, got {len(inputs)}")
        return torch.stack(
            [F.normalize(p(e(x)), dim=1) for e, p, x in zip(self.encoders, self.projs, inputs)],
            dim=1,
        )

    def weights(self, h: Tensor, mask: Tensor) -> Tensor:
        """``(N, M)`` fusion weights over the present modalities (rows sum to 1)."""
        if self.weighting == "equal":
            w = mask.float()
        elif self.weighting == "scale":
            w = scale_weights(h, mask)
        else:
            return agreement_weights(h, mask, self.log_sharpness.exp(), self.bias)
        return w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)

    def fuse(self, h: Tensor, mask: Tensor) -> Tensor:
        """``(N, D)`` the weighted sum of the present modalities' embeddings."""
        return (self.weights(h, mask)[..., None] * h).sum(dim=1)

    def loss(self, batch: Sequence[Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != self.n_modalities + 1:
            raise TypeError(f"M5Product needs ({self.n_modalities} modality tensors, mask) batches")
        *inputs, mask = batch
        h = self.encode(inputs)  # (N, M, D)
        losses = []
        for m in range(self.n_modalities):
            rest = mask.clone()
            rest[:, m] = False
            rows = mask[:, m] & rest.any(dim=1)  # m present and something to predict it from
            if rows.sum() < 2:
                continue
            fused = self.fuse(h[rows], rest[rows])  # (R, D) all but m
            losses.append(clip_loss(fused, h[rows, m], self.temperature))
        return torch.stack(losses).mean()

    @torch.no_grad()
    def embed_all(
        self, inputs: Sequence[Tensor], mask: Tensor, batch_size: int = 1024
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Eval-mode ``(fused (N, D), per-modality h (N, M, D), weights (N, M))`` on the CPU."""
        dev = self.bias.device
        out = []
        with eval_mode(self):
            for s in range(0, len(mask), batch_size):
                h = self.encode([x[s : s + batch_size].to(dev) for x in inputs])
                mk = mask[s : s + batch_size].to(dev)
                out.append((self.fuse(h, mk).cpu(), h.cpu(), self.weights(h, mk).cpu()))
        return tuple(torch.cat(parts) for parts in zip(*out))

    def embed(self, batch: Sequence[Tensor]) -> Tensor:
        """The fused representation of ``(*inputs, mask)``."""
        *inputs, mask = batch
        h = self.encode(inputs)
        return self.fuse(h, mask)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """Three toy modalities (vectors of 6, 4 and 5 numbers), 8 rows with the last two
        modalities missing from some, and the same tuple for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        inputs = [torch.randn(8, d, generator=g) for d in (6, 4, 5)]
        mask = torch.ones(8, 3, dtype=torch.bool)
        mask[::3, 1] = mask[1::3, 2] = False
        torch.manual_seed(seed)
        model = cls([MLP(d, (16,), 8) for d in (6, 4, 5)], embed_dim=8)
        batch = (*inputs, mask)
        return Example(model, batch, batch)


METHOD = M5Product
