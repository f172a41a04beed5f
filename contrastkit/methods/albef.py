"""ALBEF's image-text contrastive loss with momentum distillation, for noisy pairs.

Reference: Junnan Li, Ramprasaath R. Selvaraju, Akhilesh Deepak Gotmare, Shafiq Joty, Caiming
Xiong, Steven Hoi, "Align before Fuse: Vision and Language Representation Learning with
Momentum Distillation", NeurIPS 2021, https://arxiv.org/abs/2107.07651
(code: github.com/salesforce/ALBEF).

ALBEF first *aligns* unimodal image and text embeddings with an image-text contrastive loss
(ITC, CLIP's loss), then *fuses* them with cross-attention for matching (ITM) and masked
language modelling. Web captions are noisy: a caption may not describe its image, and then
the one-hot ITC target punishes the model for being right. Momentum distillation (MoD) mixes
in the soft similarities of an exponential-moving-average copy of the model::

    s_ij   = cos(g_v(v_i), g_t(t_j)) / t                      online model, both sides
    s^m_ij = the same with the momentum model                 theta_m <- m theta_m + (1-m) theta
    y_i2t  = alpha softmax(s^m_i.) + (1 - alpha) onehot(i)    (and y_t2i with s^m transposed)
    L_itc  = ( H(y_i2t, softmax(s_i.)) + H(y_t2i, softmax(s_.i)) ) / 2
    alpha ramps from 0 to its value over the first ``ramp`` steps (the paper: over epoch 1)

(``losses.itc_distill_loss``). ``alpha = 0`` is plain ITC, i.e. ``clip_loss``.

Scaled down, and why: only the alignment stage (ITC with MoD) is kept, since the claim tested
here is about retrieval from the aligned unimodal embeddings; the fusion encoder, ITM with hard
negatives and MLM are left out. The paper's s(I, T) scores the online model's embeddings (queries)
against the momentum encoder's (keys), drawn from queues of 65,536 momentum features; here s_ij is
online against online over the batch's candidates (batch 128), as in CLIP, and only the soft
targets use the momentum model. Encoders are ``SmallConvNet`` and the ``clip.TextEncoder`` bag
of words instead of a ViT-B/16 and BERT; momentum 0.99 instead of 0.995 for the short runs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import metrics
from ..blocks import MomentumEncoder
from ..losses import itc_distill_loss
from .base import Example
from .clip import CLIP, TextEncoder


class ALBEF(CLIP):
    """CLIP's two towers trained with ITC plus momentum-distilled soft targets.

    Args:
        image_encoder, text_encoder, embed_dim, temperature: as in :class:`clip.CLIP`.
        alpha: weight of the momentum model's soft targets (0.4 in the paper; 0 is plain ITC).
        momentum: EMA coefficient of the momentum model.
        ramp: steps over which alpha grows linearly from 0 (the momentum model starts random).
    """

    input_kind = "image_text"

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 64,
        temperature: float = 0.07,
        alpha: float = 0.4,
        momentum: float = 0.99,
        ramp: int = 100,
    ) -> None:
        super().__init__(image_encoder, text_encoder, embed_dim, temperature)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if ramp < 0:
            raise ValueError(f"ramp must be >= 0 steps, got {ramp}")
        self.alpha, self.ramp = alpha, ramp
        self.momentum_model = MomentumEncoder(self._towers(), momentum)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def _towers(self) -> nn.ModuleList:
        return nn.ModuleList([self.image_encoder, self.image_proj, self.text_encoder,
                              self.text_proj])  # fmt: skip

    def current_alpha(self) -> float:
        """``alpha`` times the ramp factor ``min(1, step / ramp)``."""
        if self.ramp == 0:
            return self.alpha
        return self.alpha * min(1.0, int(self.step) / self.ramp)

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("ALBEF needs (images, tokens) batches: fit(model, (x, tokens))")
        x, tokens = batch[0], batch[1]
        a = self.image_proj(self.image_encoder(x))
        b = self.text_proj(self.text_encoder(tokens))
        with torch.no_grad():
            ie, ip, te, tp = self.momentum_model.target
            a_m, b_m = ip(ie(x)), tp(te(tokens))
        t = self.temperature
        return itc_distill_loss(a, b, a_m, b_m, t, self.current_alpha())

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        super().after_step(step)
        self.momentum_model.update(self._towers())
        self.step += 1

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        tokens = torch.randint(1, 30, (8, 6), generator=g)
        model = cls(SmallConvNet(widths=(8, 16)), TextEncoder(30, 16), embed_dim=8, ramp=2)
        return Example(model, (x, tokens), x)


@torch.no_grad()
def retrieval_recall(
    model: CLIP, x: Tensor, tokens: Tensor, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, float]:
    """Image->text and text->image recall@k of row-aligned ``(x, tokens)``, and their mean.

    Row i of ``x`` is the match of row i of ``tokens``; recall@k is the share of queries whose
    match is among the ``k`` most similar candidates. Returns ``{"i2t@k", "t2i@k", "mean"}``.
    """
    if len(x) != len(tokens):
        raise ValueError(f"x and tokens must have the same rows, got {len(x)} and {len(tokens)}")
    return metrics.retrieval_recall(model.similarity(x, tokens), ks, names=("i2t", "t2i"))


METHOD = ALBEF
