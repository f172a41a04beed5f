"""TCL: cross-modal, intra-modal and local-global contrast for image-text pre-training.

Reference: Jinyu Yang, Jiali Duan, Son Tran, Yi Xu, Sampath Chanda, Liqun Chen, Belinda Zeng,
Trishul Chilimbi, Junzhou Huang, "Vision-Language Pre-Training with Triple Contrastive
Learning", CVPR 2022, https://arxiv.org/abs/2202.10401 (code: github.com/uta-smile/TCL).

CLIP-style cross-modal alignment (CMA) pulls an image and its caption together, but nothing in
it keeps two views of the same image (or two similar images) close, and noisy captions make
that worse. TCL adds two terms. With a student that sees a view v and an EMA teacher that sees
another view v' (``a``: image, ``b``: caption, ``m``: teacher, all normalised)::

    CMA = clip_loss(a, b)                                   image <-> text, in-batch negatives
    IMC = ( info_nce(a, a_m) + info_nce(b, b_m) ) / 2       each view must find its other view
    LMI = ( local_global_nce(a, P_m) + local_global_nce(b, W_m, mask) ) / 2
          a global embedding must pick its own teacher locals (P: 4x4 feature-map patches,
          W: word tokens, padding masked) out of every other sample's locals
    loss = CMA + w_imc IMC + w_lmi LMI                      (TCL: the mean of the six terms)

``w_imc = w_lmi = 0`` is plain ITC (CLIP's loss) with the same encoders and augmentation.

Scaled down, and why: ALBEF's fusion encoder, ITM, MLM and momentum distillation are
dropped: the claim is about the unimodal embeddings. No
queue of 65,536 (in-batch negatives, batch 128). CMA is student-student, not student-teacher.
Encoders are a ``SmallConvNet`` (its last feature map gives the patches) and the
``clip.TextEncoder`` bag of words (its word embeddings are the tokens) instead of ViT-B/16 and
BERT; the text view is word dropout, the image view a caption-preserving augmentation (no flip
or crop that would falsify "on the left"/"small", no hue change that would falsify the colour).
Momentum 0.99 instead of 0.995 for the short runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..blocks import MomentumEncoder
from ..losses import clip_loss, info_nce, local_global_nce
from ..utils import eval_mode
from .base import Example
from .clip import CLIP, TextEncoder

# Views that keep the caption true: mild crop, brightness/contrast only, pixel noise.
CAPTION_SAFE = AugmentConfig(crop_scale=(0.7, 1.0), crop_ratio=(0.9, 1.1), flip=0.0, jitter=0.8,
                             brightness=0.3, contrast=0.3, saturation=0.0, hue=0.0,
                             grayscale=0.0, noise=0.05)  # fmt: skip


def word_dropout(tokens: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """A text view: each real word replaced by padding (id 0) with probability ``p``; every
    caption keeps at least its first word."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    drop = torch.rand(tokens.shape, generator=generator, device=tokens.device) < p
    drop[:, 0] = False
    return tokens.masked_fill(drop, 0)


class TCL(CLIP):
    """Two towers trained with CMA + intra-modal contrast + local mutual information.

    Args:
        image_encoder: a ``SmallConvNet`` (its ``net`` ends with pooling and flatten; the map
            before them gives the local patches).
        text_encoder: a ``clip.TextEncoder`` (its ``embedding`` gives the local tokens).
        embed_dim, temperature: as in :class:`clip.CLIP` (learned temperature, start 0.07).
        w_imc, w_lmi: weights of the intra-modal and local-global terms (0, 0: plain ITC).
        momentum: EMA coefficient of the teacher.
        augment: the image view (default ``CAPTION_SAFE``). word_drop: the text view.
    """

    input_kind = "image_text"

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 64,
        temperature: float = 0.07,
        w_imc: float = 1.0,
        w_lmi: float = 1.0,
        momentum: float = 0.99,
        augment: AugmentConfig | str | None = CAPTION_SAFE,
        word_drop: float = 0.15,
    ) -> None:
        super().__init__(image_encoder, text_encoder, embed_dim, temperature, augment=augment)
        if w_imc < 0 or w_lmi < 0:
            raise ValueError(f"w_imc and w_lmi must be >= 0, got {w_imc} and {w_lmi}")
        if not 0.0 <= word_drop < 1.0:
            raise ValueError(f"word_drop must be in [0, 1), got {word_drop}")
        if not hasattr(image_encoder, "net") or not hasattr(text_encoder, "embedding"):
            raise TypeError("TCL needs a SmallConvNet image encoder and a clip.TextEncoder")
        self.w_imc, self.w_lmi, self.word_drop = w_imc, w_lmi, word_drop
        self.patch_proj = nn.Linear(image_encoder.out_dim, embed_dim, bias=False)
        self.token_proj = nn.Linear(text_encoder.embedding.embedding_dim, embed_dim, bias=False)
        self.teacher = MomentumEncoder(self._towers(), momentum)

    def _towers(self) -> nn.ModuleList:
        return nn.ModuleList([self.image_encoder, self.image_proj, self.patch_proj,
                              self.text_encoder, self.text_proj, self.token_proj])  # fmt: skip

    @staticmethod
    def image_parts(encoder: nn.Module, proj: nn.Module, patch_proj: nn.Module, x: Tensor):
        """``(global (N, E), patches (N, P, E))`` from one pass of a SmallConvNet."""
        fmap = encoder.net[:-2](x)  # (N, C, h, w): the map before global pooling
        g = proj(encoder.net[-2:](fmap))  # exactly encoder(x), projected
        if fmap.shape[-1] > 4:
            fmap = F.adaptive_avg_pool2d(fmap, 4)  # at most 4x4 patches, as in TCL
        return g, patch_proj(fmap.flatten(2).transpose(1, 2))

    @staticmethod
    def text_parts(encoder: nn.Module, proj: nn.Module, token_proj: nn.Module, tokens: Tensor):
        """``(global (N, E), tokens (N, L, E), mask (N, L))``."""
        return proj(encoder(tokens)), token_proj(encoder.embedding(tokens)), tokens != 0

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("TCL needs (images, tokens) batches: fit(model, (x, tokens))")
        x, tokens = batch[0], batch[1]
        aug = self.augment is not None
        x1 = augment(x, self.augment) if aug else x
        t1 = word_dropout(tokens, self.word_drop) if self.word_drop else tokens
        t = self.temperature
        if self.w_imc == 0 and self.w_lmi == 0:  # plain ITC: no teacher pass
            return clip_loss(self.image_proj(self.image_encoder(x1)),
                             self.text_proj(self.text_encoder(t1)), t)  # fmt: skip
        a, _ = self.image_parts(self.image_encoder, self.image_proj, self.patch_proj, x1)
        b = self.text_proj(self.text_encoder(t1))
        loss = clip_loss(a, b, t)  # CMA
        with torch.no_grad():  # the teacher sees the other views
            ie, ip, pp, te, tp, kp = self.teacher.target
            x2 = augment(x, self.augment) if aug else x
            t2 = word_dropout(tokens, self.word_drop) if self.word_drop else tokens
            a_m, patches_m = self.image_parts(ie, ip, pp, x2)
            b_m, words_m, mask_m = self.text_parts(te, tp, kp, t2)
        if self.w_imc:
            loss = loss + self.w_imc * (info_nce(a, a_m, temperature=t)
                                        + info_nce(b, b_m, temperature=t)) / 2  # fmt: skip
        if self.w_lmi:
            loss = loss + self.w_lmi * (local_global_nce(a, patches_m, None, t)
                                        + local_global_nce(b, words_m, mask_m, t)) / 2  # fmt: skip
        return loss

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        super().after_step(step)
        self.teacher.update(self._towers())

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        tokens = torch.randint(1, 30, (8, 6), generator=g)
        model = cls(SmallConvNet(widths=(8, 16)), TextEncoder(30, 16), embed_dim=8)
        return Example(model, (x, tokens), x)


@torch.no_grad()
def view_reid(model: CLIP, x: Tensor, config: AugmentConfig | None = None, seed: int = 0) -> float:
    """Augmented-view re-identification: the share of images whose augmented view's nearest
    neighbour (cosine, in the shared space) among the other view of all ``x`` is itself."""
    config = config or CAPTION_SAFE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        v1, v2 = augment(x.cpu(), config).to(x.device), augment(x.cpu(), config).to(x.device)
    with eval_mode(model):
        s = model.encode_image(v1) @ model.encode_image(v2).T
    return float((s.argmax(dim=1).cpu() == torch.arange(len(x))).float().mean())


def attribute_ids(attributes: dict[str, Tensor], names=("shape", "colour", "position", "size")):
    """One class id per distinct attribute tuple (the kNN label for "same description")."""
    cols = torch.stack([attributes[n].cpu().long() for n in names], dim=1)
    return torch.unique(cols, dim=0, return_inverse=True)[1]


METHOD = TCL
