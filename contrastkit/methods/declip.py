"""DeCLIP: more supervision from the same image-caption pairs.

Reference: Yangguang Li, Feng Liang, Lichen Zhao, Yufeng Cui, Wanli Ouyang, Jing Shao, Fengwei
Yu, Junjie Yan, "Supervision Exists Everywhere: A Data Efficient Contrastive Language-Image
Pre-training Paradigm", ICLR 2022, https://arxiv.org/abs/2110.05208
(code: github.com/Sense-GVT/DeCLIP).

CLIP uses one signal per pair: image i goes with caption i. DeCLIP adds three more, at no
extra data cost::

    x1, x2 = aug(x), aug(x)            two image views        t1, t2 = eda(t), eda(t)
    u_a = normalise(g_img(f_img(x_a)))   v_b = normalise(g_txt(f_txt(t_b)))   (shared space)
    L_MV  = mean_{a, b in 1..2} clip_loss(u_a, v_b)          multi-view: 2 x 2 cross-modal pairs
    L_SS  = nt_xent(h(f_img(x1)), h(f_img(x2)))              self-supervision inside images
          + nt_xent(h'(f_txt(t1)), h'(f_txt(t2)))            ... and inside captions
    L_NN  = clip_loss(u_1, NN(v_1))                           nearest-neighbour supervision:
            NN(v) = the caption embedding in a FIFO queue of past captions nearest v
    L = w_mv L_MV + w_ss L_SS + w_nn L_NN

The paper weights 0.4 L_CLIP(2x2) + 0.2 L_NN + 0.2 L_SimSiam + 0.2 L_MLM. Scaled down and
simplified, and why:

* image self-supervision is SimCLR's NT-Xent (``losses.nt_xent``) on a small projection
  head rather than SimSiam: it is stable at batch 100 and a few hundred steps, where
  SimSiam's predictor needs far longer to leave collapse;
* text self-supervision is NT-Xent between two EDA-style views (random word deletion and
  adjacent swaps) rather than masked language modelling: the toy captions have no long-range
  structure for MLM to learn, and the bag-of-words encoder cannot predict a masked position;
* image views use only augmentations that keep the caption true (mild crops, brightness and
  contrast, noise; no flips, which would swap "left" and "right", and no hue changes);
* the NN queue holds 1,024 captions instead of 2^16; encoders are ``SmallConvNet`` and the
  ``clip.TextEncoder`` bag of words; single process (no all-gather).

Setting every extra weight to 0 and ``views=1`` gives plain CLIP with the same encoders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..blocks import Queue
from ..losses import clip_loss, nt_xent
from .clip import CLIP

# Augmentations that keep every caption word true: no flip (left/right), no hue (colour),
# crops mild enough that the object stays where the caption says.
CAPTION_SAFE = AugmentConfig(
    crop_scale=(0.7, 1.0),
    flip=0.0,
    jitter=0.8,
    brightness=0.3,
    contrast=0.3,
    saturation=0.0,
    hue=0.0,
    grayscale=0.0,
    noise=0.05,
)


def eda(tokens: Tensor, drop: float = 0.2, swap: float = 0.2, generator=None) -> Tensor:
    """EDA-style text view: delete each word with prob ``drop``, swap adjacent words with ``swap``.

    ``tokens`` is ``(B, L)`` int64 with 0 as padding; deleted words become padding (the
    ``TextEncoder`` ignores it), so lengths stay ``L``. At least one word is always kept.

    Raises:
        ValueError: ``tokens`` not an int64 ``(B, L)`` tensor, or a probability outside [0, 1].
    """
    if tokens.ndim != 2 or tokens.dtype != torch.long:
        raise ValueError(f"tokens must be int64 (B, L), got {tuple(tokens.shape)} {tokens.dtype}")
    for name, p in (("drop", drop), ("swap", swap)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p}")
    dev = tokens.device
    b, length = tokens.shape
    u = torch.rand(b, length, generator=generator, device="cpu").to(dev)
    real = tokens != 0
    keep = (u >= drop) | ~real
    # keep the first real word of a row whose every word would be dropped
    none_left = ~(keep & real).any(dim=1)
    first = real.float().argmax(dim=1)
    keep[none_left, first[none_left]] = True
    out = torch.where(keep, tokens, torch.zeros_like(tokens))
    if swap > 0 and length > 1:
        s = torch.rand(b, length - 1, generator=generator, device="cpu").to(dev) < swap
        s[:, 1:] &= ~s[:, :-1]  # no overlapping swaps
        idx = torch.arange(length, device=dev).expand(b, length).clone()
        i = s.nonzero()
        idx[i[:, 0], i[:, 1]] = i[:, 1] + 1
        idx[i[:, 0], i[:, 1] + 1] = i[:, 1]
        out = out.gather(1, idx)
    return out


def nearest_neighbours(queries: Tensor, bank: Tensor) -> Tensor:
    """For each row of ``queries (B, D)``, the row of ``bank (K, D)`` with the highest cosine.

    Returns ``(B, D)`` (the bank's rows, detached). An empty bank returns the queries detached.
    """
    if bank.shape[0] == 0:
        return queries.detach()
    sims = F.normalize(queries.detach(), dim=1) @ F.normalize(bank, dim=1).T
    return bank[sims.argmax(dim=1)]


class DeCLIP(CLIP):
    """CLIP plus multi-view, in-modality and nearest-neighbour supervision.

    Args:
        image_encoder, text_encoder, embed_dim, temperature: as in :class:`clip.CLIP`.
        views: image and caption views per pair (2: the paper's 2 x 2 cross-modal pairs).
        w_mv: weight of the multi-view CLIP term. w_ss: of the in-modality NT-Xent terms.
        w_nn: of the nearest-neighbour term.
        ss_temperature: NT-Xent's temperature. queue_size: captions in the NN bank.
        image_augment: the image views' augmentation (default ``CAPTION_SAFE``).
        text_drop, text_swap: EDA probabilities for the caption views.
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 64,
        temperature: float = 0.07,
        views: int = 2,
        w_mv: float = 1.0,
        w_ss: float = 0.5,
        w_nn: float = 0.5,
        ss_temperature: float = 0.2,
        queue_size: int = 1024,
        image_augment: AugmentConfig | str | None = CAPTION_SAFE,
        text_drop: float = 0.2,
        text_swap: float = 0.2,
    ) -> None:
        super().__init__(image_encoder, text_encoder, embed_dim, temperature)
        if views not in (1, 2):
            raise ValueError(f"views must be 1 or 2, got {views}")
        for name, w in (("w_mv", w_mv), ("w_ss", w_ss), ("w_nn", w_nn)):
            if w < 0:
                raise ValueError(f"{name} must be >= 0, got {w}")
        if w_ss > 0 and views < 2:
            raise ValueError("w_ss > 0 needs views=2 (self-supervision contrasts two views)")
        self.views, self.w_mv, self.w_ss, self.w_nn = views, w_mv, w_ss, w_nn
        self.ss_temperature = ss_temperature
        self.image_augment = image_augment
        self.text_drop, self.text_swap = text_drop, text_swap
        self.image_head = nn.Sequential(
            nn.Linear(image_encoder.out_dim, 128), nn.ReLU(inplace=True), nn.Linear(128, 64)
        )
        self.text_head = nn.Sequential(
            nn.Linear(text_encoder.out_dim, 128), nn.ReLU(inplace=True), nn.Linear(128, 64)
        )
        self.queue = Queue(queue_size, embed_dim)

    def _image_views(self, x: Tensor) -> list[Tensor]:
        if self.views == 1 or self.image_augment is None:
            return [x] * self.views
        return [augment(x, self.image_augment) for _ in range(self.views)]

    def _text_views(self, tokens: Tensor) -> list[Tensor]:
        if self.views == 1:
            return [tokens]
        return [eda(tokens, self.text_drop, self.text_swap) for _ in range(self.views)]

    def loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """The weighted sum and its terms ``{"mv", "ss", "nn"}`` (unweighted; ``"ss"`` only when
        ``w_ss > 0``, ``"nn"`` once the caption bank holds something)."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("DeCLIP needs (images, tokens) batches: fit(model, (x, tokens))")
        x, tokens = batch[0], batch[1]
        hx = [self.image_encoder(v) for v in self._image_views(x)]  # features per view
        ht = [self.text_encoder(v) for v in self._text_views(tokens)]
        u = [self.image_proj(h) for h in hx]  # shared space (clip_loss normalises)
        v = [self.text_proj(h) for h in ht]
        t = self.temperature
        mv = sum(clip_loss(a, b, t) for a in u for b in v) / (len(u) * len(v))
        total, terms = self.w_mv * mv, {"mv": float(mv.detach())}
        if self.w_ss > 0:
            ss = nt_xent(self.image_head(hx[0]), self.image_head(hx[1]), self.ss_temperature)
            ss = ss + nt_xent(self.text_head(ht[0]), self.text_head(ht[1]), self.ss_temperature)
            total, terms["ss"] = total + self.w_ss * ss, float(ss.detach())
        v0 = F.normalize(v[0], dim=1)
        if self.w_nn > 0 and int(self.queue.filled) > 0:
            nn_text = nearest_neighbours(v0, self.queue.get())
            nn_loss = clip_loss(u[0], nn_text, t)
            total, terms["nn"] = total + self.w_nn * nn_loss, float(nn_loss.detach())
        if self.w_nn > 0:
            self.queue.push(v0.detach())
        return total, terms


METHOD = DeCLIP
