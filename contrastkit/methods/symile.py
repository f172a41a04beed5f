"""Symile: one contrastive score for a whole tuple of modalities, not a sum over pairs.

Reference: Adriel Saporta, Aahlad Puli, Mark Goldstein, Rajesh Ranganath, "Contrasting with
Symile: Simple Model-Agnostic Representation Learning for Unlimited Modalities", NeurIPS 2024,
https://arxiv.org/abs/2411.01053 (code: github.com/rajesh-lab/symile).

    r_m = normalise(f_m(x_m))                     one encoder per modality, m = 1..M
    MIP(r_1, ..., r_M) = sum_k prod_m r_m,k       the multilinear inner product of a tuple
    for each anchor m: logits_ij = MIP(r_m,i, candidate tuple j of the other modalities) / t
    loss = mean_m CE(logits_m, diagonal)          (losses.symile_loss)
    t = exp(-log_scale), learned                  the paper starts at log_scale = -0.3

Pairwise CLIP (the baseline, ``PairwiseCLIP``) sums ``clip_loss`` over pairs of modalities, so
it can only learn what each *pair* shares. When the information about one modality lies in
the joint of the others (the XOR set: ``c = a XOR b``, every pair independent), pairwise
losses see nothing and stay at chance, while Symile's loss lower-bounds the total correlation
and its representations are sufficient statistics for the missing modality.

Zero-shot prediction (``predict``): fill modality ``m`` of each tuple with each candidate in
turn and keep the best-scoring one: ``argmax_k MIP(r_others, r_m(candidate_k))`` for Symile,
``argmax_k sum_{pairs with m} r_other . r_m(candidate_k)`` for pairwise CLIP.

Scaled down: nothing for the XOR experiment (linear encoders R^5 -> R^16, batch 1,000 and AdamW
at lr 0.1 are the paper's); fewer epochs (15 instead of 100, where we measured the same
accuracies) and 3 switch probabilities instead of 11 in quick mode. The paper's image, text
and audio encoders (CLIP, XLM-RoBERTa, Whisper) are replaced by whatever small modules the
caller passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import clip_loss, symile_loss
from ..utils import eval_mode
from .base import Example, Method


class MultiEncoder(Method):
    """One encoder per modality into a shared space, with a learned temperature.

    The shared part of every "score a tuple of modalities" method (Symile, pairwise CLIP,
    GRAM): subclasses define ``loss(batch)`` and ``candidate_scores(...)``.

    Args:
        encoders: one module per modality, each mapping its input ``(N, ...)`` to ``(N, D)``.
        temperature: the starting temperature ``t`` (logits are scores / t).
        learn_temperature: learn ``log(1 / t)`` or keep ``t`` fixed.
        max_logit_scale: the clamp on ``1 / t`` (100, as in CLIP).

    The batch is the tuple of modality tensors, row ``i`` of each from the same tuple.
    """

    input_kind = "modalities"

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        temperature: float = 0.07,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__()
        if len(encoders) < 2:
            raise ValueError(
                f"encoders must hold >= 2 modules (one per modality), got {len(encoders)}"
            )
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not max_logit_scale >= 1 / temperature:
            raise ValueError(f"max_logit_scale must be >= 1 / temperature, got {max_logit_scale}")
        self.encoders = nn.ModuleList(encoders)
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(1 / temperature)), requires_grad=learn_temperature
        )
        self.max_log_scale = math.log(max_logit_scale)

    @property
    def n_modalities(self) -> int:
        return len(self.encoders)

    @property
    def temperature(self) -> Tensor:
        """``t = exp(-log_scale)``, a scalar tensor (attached to the graph when learned)."""
        return self.log_scale.clamp(max=self.max_log_scale).neg().exp()

    def _inputs(self, batch: Sequence[Tensor]) -> Sequence[Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) != self.n_modalities:
            raise TypeError(
                f"{type(self).__name__} needs batches of {self.n_modalities} tensors, one per "
                f"modality: fit(model, (x_1, ..., x_{self.n_modalities}))"
            )
        return batch

    def raw(self, batch: Sequence[Tensor]) -> list[Tensor]:
        """``M x (N, D)`` encoder outputs, before normalisation (the losses normalise)."""
        return [f(x) for f, x in zip(self.encoders, self._inputs(batch), strict=True)]

    @torch.no_grad()
    def encode(self, batch: Sequence[Tensor]) -> list[Tensor]:
        """``M x (N, D)`` unit-length embeddings, one per modality (no gradients)."""
        return [F.normalize(z, dim=1) for z in self.raw(batch)]

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the first modality's encoder output."""
        return self.encoders[0](x)

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        self.log_scale.clamp_(max=self.max_log_scale)

    def candidate_scores(self, r: list[Tensor], m: int, cand: Tensor) -> Tensor:
        """``(N, K)`` scores of each tuple of ``r`` with modality ``m`` replaced by each of the
        ``K`` unit candidate embeddings ``cand``; higher is a better match."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, batch: Sequence[Tensor], m: int, candidates: Tensor) -> Tensor:
        """Zero-shot: for each tuple, the index of the best of ``candidates`` for modality ``m``.

        Args:
            batch: the ``M`` modality tensors (modality ``m``'s is ignored; pass anything of
                the right shape, e.g. the true values).
            m: which modality to predict. candidates: ``(K, ...)`` inputs of modality ``m``.

        Returns:
            ``(N,)`` int64 indices into ``candidates``.
        """
        if not 0 <= m < self.n_modalities:
            raise ValueError(f"m must be a modality index in 0..{self.n_modalities - 1}, got {m}")
        with eval_mode(self):
            r = self.encode(batch)
            cand = F.normalize(self.encoders[m](candidates), dim=1)  # (K, D)
        return self.candidate_scores(r, m, cand).argmax(dim=1)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """Three linear encoders R^5 -> R^8 (the subclass's defaults otherwise), 8 toy tuples of
        5-bit vectors (``c = a XOR b``) and the first modality for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        a, b = (torch.randint(0, 2, (8, 5), generator=g).float() for _ in range(2))
        torch.manual_seed(seed)
        model = cls([nn.Linear(5, 8) for _ in range(3)])
        return Example(model, (a, b, (a + b) % 2), a)


class Symile(MultiEncoder):
    """Symile's multilinear-inner-product contrast over ``M >= 2`` modalities.

    Args:
        encoders: one module per modality (outputs of one width D).
        temperature: the starting ``t``; the paper's XOR runs start at ``exp(0.3)`` (log scale
            -0.3), larger than CLIP's 0.07 because a MIP of unit vectors is small.
        negatives: ``"n"`` (O(N), the paper's default) or ``"n2"`` (all combinations).
        learn_temperature, max_logit_scale: see :class:`MultiEncoder`.

    The batch is the tuple of modality tensors: ``fit(model, (a, b, c))``.

    Example:
        >>> xor = make_xor(10_000, d=5, p=1.0)
        >>> model = Symile([nn.Linear(5, 16) for _ in range(3)])
        >>> fit(model, xor.tensors(), epochs=15, batch_size=1000, lr=0.1, optimizer="adamw")
        >>> pred = model.predict(test.tensors(), 1, all_bit_vectors)   # b from (a, c)
    """

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        temperature: float = math.exp(0.3),
        negatives: str = "n",
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__(encoders, temperature, learn_temperature, max_logit_scale)
        if negatives not in ("n", "n2"):
            raise ValueError(f"negatives must be 'n' or 'n2', got {negatives!r}")
        self.negatives = negatives

    def loss(self, batch: Sequence[Tensor]) -> Tensor:
        return symile_loss(self.raw(batch), self.temperature, self.negatives)

    def candidate_scores(self, r: list[Tensor], m: int, cand: Tensor) -> Tensor:
        rest = torch.stack([z for k, z in enumerate(r) if k != m]).prod(dim=0)  # (N, D)
        return rest @ cand.T  # (N, K): MIP(others_i, candidate_k)


class PairwiseCLIP(MultiEncoder):
    """CLIP's loss summed over pairs of modalities: the baseline of Symile and GRAM.

    Args:
        encoders: one module per modality.
        pairs: ``"all"`` (every pair, Symile's baseline) or ``"anchor"`` (only the pairs with
            modality ``anchor``, as ImageBind / anchored models and GRAM's baseline do).
        anchor: the anchor modality's index for ``pairs="anchor"``.
        temperature, learn_temperature, max_logit_scale: see :class:`MultiEncoder`.
    """

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        temperature: float = 0.07,
        pairs: str = "all",
        anchor: int = 0,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__(encoders, temperature, learn_temperature, max_logit_scale)
        if pairs not in ("all", "anchor"):
            raise ValueError(f"pairs must be 'all' or 'anchor', got {pairs!r}")
        if not 0 <= anchor < len(encoders):
            raise ValueError(f"anchor must be in 0..{len(encoders) - 1}, got {anchor}")
        m = len(encoders)
        self.pairs = [
            (i, j) for i in range(m) for j in range(i + 1, m) if pairs == "all" or anchor in (i, j)
        ]

    def loss(self, batch: Sequence[Tensor]) -> Tensor:
        z = self.raw(batch)
        t = self.temperature
        return torch.stack([clip_loss(z[i], z[j], t) for i, j in self.pairs]).mean()

    def candidate_scores(self, r: list[Tensor], m: int, cand: Tensor) -> Tensor:
        partners = [j if i == m else i for i, j in self.pairs if m in (i, j)]
        if not partners:
            raise ValueError(f"modality {m} is in no trained pair: it cannot be predicted")
        return torch.stack([r[k] for k in partners]).sum(dim=0) @ cand.T  # (N, K)


def all_bit_vectors(d: int) -> Tensor:
    """``(2**d, d)`` float: every d-bit vector, row ``k`` the bits of ``k`` (lowest first)."""
    return ((torch.arange(2**d)[:, None] >> torch.arange(d)) & 1).float()


def bit_codes(bits: Tensor) -> Tensor:
    """``(N,)`` int64: the integer whose bits (lowest first) are the rows of ``bits`` (rounded)."""
    return (bits.round().long().clamp(0, 1) << torch.arange(bits.shape[1], device=bits.device)).sum(
        1
    )


def xor_accuracy(model: MultiEncoder, a: Tensor, b: Tensor, c: Tensor) -> float:
    """Zero-shot accuracy of predicting ``b`` from ``(a, c)`` among all ``2**d`` bit vectors."""
    cand = all_bit_vectors(b.shape[1]).to(b.device)
    pred = model.predict((a, b, c), 1, cand).cpu()
    return float((pred == bit_codes(b.cpu())).float().mean())


METHOD = Symile
