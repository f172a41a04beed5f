"""GRAM: align all modalities at once by shrinking the volume their embeddings span.

Reference: Giordano Cicchetti, Eleonora Grassucci, Luigi Sigillo, Danilo Comminiello,
"Gramian Multimodal Representation Learning and Alignment", ICLR 2025,
https://arxiv.org/abs/2412.11959 (code: github.com/ispamm/GRAM).

    r_m = normalise(f_m(x_m))                         one encoder per modality; m = 0 the anchor
    G = A^T A,  A = [r_0,i, r_1,j, ..., r_k,j]        Gram matrix of anchor i and tuple j
    Vol_ij = sqrt(det G)                              0 when all vectors are collinear
    loss = (CE(-Vol / t, I) + CE(-Vol^T / t, I)) / 2  (losses.gram_loss); t learned, from 0.07

Anchored models (ImageBind-style: text or image as the hub, one CLIP loss per other modality,
``PairwiseCLIP(pairs="anchor")``) align every modality with the anchor but never the others
with each other. GRAM's similarity is a property of the whole tuple: a small volume needs all
its vectors close together, so the non-anchor modalities are pulled together too.

Retrieval: anchor -> tuple by ``-Vol`` (``tuple_scores``); between two modalities by cosine.
For two vectors the volume is ``sin`` of their angle, blind to sign (an anti-aligned pair has
volume 0), so cosine is the safer pairwise score.

Scaled down: the paper fine-tunes video, audio and text backbones (with a matching head,
dropped here) on VAST-150K and friends; here tiny MLP / bag-of-words encoders on generated
``make_multimodal`` tuples (caption, image, tone), batch 256, a few hundred steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import gram_loss, gram_volume
from .symile import MultiEncoder, PairwiseCLIP

__all__ = ["GRAM", "PairwiseCLIP", "pair_cosine", "tuple_scores"]


class GRAM(MultiEncoder):
    """Volume-based contrast of an anchor modality against whole tuples of the others.

    Args:
        encoders: one module per modality (outputs of one width D).
        temperature: the starting ``t`` (0.07, the paper's ``contra_temp``); learned.
        anchor: the anchor modality's index (text in the paper).
        learn_temperature, max_logit_scale: see ``symile.MultiEncoder``.

    The batch is the tuple of modality tensors: ``fit(model, (text, image, audio))``.

    Example:
        >>> model = GRAM([text_enc, image_enc, audio_enc], anchor=0)
        >>> fit(model, data.tensors("text", "image", "audio"), steps=300)
        >>> vol = model.tuple_scores(test.tensors("text", "image", "audio"))   # (N, N), -Vol
    """

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        temperature: float = 0.07,
        anchor: int = 0,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__(encoders, temperature, learn_temperature, max_logit_scale)
        if not 0 <= anchor < len(encoders):
            raise ValueError(f"anchor must be in 0..{len(encoders) - 1}, got {anchor}")
        self.anchor = anchor

    def _split(self, z: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        return z[self.anchor], [v for k, v in enumerate(z) if k != self.anchor]

    def loss(self, batch: Sequence[Tensor]) -> Tensor:
        anchor, others = self._split(self.raw(batch))
        return gram_loss(anchor, others, self.temperature)

    def candidate_scores(self, r: list[Tensor], m: int, cand: Tensor) -> Tensor:
        rest = [v for k, v in enumerate(r) if k != m]
        return -gram_volume([cand, *rest], all_pairs=True).T  # (N, K): -Vol(tuple_i + cand_k)

    @torch.no_grad()
    def tuple_scores(self, batch: Sequence[Tensor]) -> Tensor:
        """``(N, N)``: ``-Vol(anchor_i, tuple_j)``, row ``i``'s true tuple on the diagonal."""
        anchor, others = self._split(self.encode(batch))
        return -gram_volume([anchor, *others], all_pairs=True)


@torch.no_grad()
def tuple_scores(model: MultiEncoder, batch: Sequence[Tensor], anchor: int = 0) -> Tensor:
    """``(N, N)`` anchor ``i`` -> whole tuple ``j`` scores for any model: GRAM's ``-Vol``, else
    the sum of the anchor's cosines with the tuple's other modalities (how an anchored model
    scores a tuple)."""
    if isinstance(model, GRAM):
        return model.tuple_scores(batch)
    r = model.encode(batch)
    return sum(r[anchor] @ v.T for k, v in enumerate(r) if k != anchor)


def pair_cosine(model: MultiEncoder, batch: Sequence[Tensor], i: int, j: int) -> float:
    """Mean cosine between modalities ``i`` and ``j`` of the same tuples (matched pairs)."""
    r = model.encode(batch)
    return float(F.cosine_similarity(r[i], r[j], dim=1).mean())


METHOD = GRAM
