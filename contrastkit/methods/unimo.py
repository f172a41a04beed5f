"""UNIMO's cross-modal contrastive learning (CMCL) with rewritten texts and unpaired data.

Reference: Wei Li, Can Gao, Guocheng Niu, Xinyan Xiao, Hao Liu, Jiachen Liu, Hua Wu, Haifeng
Wang, "UNIMO: Towards Unified-Modal Understanding and Generation via Cross-Modal Contrastive
Learning", ACL 2021, https://arxiv.org/abs/2012.15409 (code: PaddlePaddle/Research, NLP/UNIMO).

UNIMO learns one representation from image-text pairs *and* from images alone and texts
alone. Its cross-modal contrast enlarges CLIP's candidate set by *rewriting* the caption:
paraphrases (back-translation in the paper) are extra positives, and captions whose objects,
attributes or relations were edited (scene-graph rewriting) are hard negatives that differ
from the truth in one detail::

    d(v, w)  = cos(v, w) / t
    X+_i     = { caption_i, paraphrases of caption_i }
    X-_i     = { other captions of the batch } + { rewrites of caption_i with one fact changed }
    L_CMCL   = -log[ sum_{w in X+_i} e^{d(v_i, w)} / sum_{w in X+_i u X-_i} e^{d(v_i, w)} ]
               (+ each positive text finding its image among the batch's images)
    L_uni    = nt_xent(two views of an unpaired image) + nt_xent(two paraphrases of an
               unpaired text): the single-modal data trains the same towers
    L        = L_CMCL + lambda L_uni

(``losses.cmcl_loss``: with one positive and no rewrites it is ``clip_loss``.)

Scaled down, and why: the captions of ``captioned_shapes`` are written from known factors, so
"rewriting" is exact: a paraphrase re-describes the same factors with another template and a
hard negative swaps one factor word (shape, colour, position or size) for another value; no
back-translation or scene-graph parser is needed. The unified Transformer, masked language /
region modelling and seq2seq generation are dropped: the two towers are ``SmallConvNet`` and
``clip.TextEncoder`` (bag of words), and single-modal data enters through a contrastive term
(SimCLR on images with position- and colour-safe augmentation, paraphrase pairs on texts)
instead of masked modelling. The paper's retrieval-augmented positives (related single-modal
samples) are left out.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..data.captions import (
    COLOUR_NAMES,
    POSITION_PHRASES,
    SIZE_NAMES,
    TEMPLATES,
    _fill,
    tokenize,
)
from ..losses import cmcl_loss, nt_xent
from ..models import SmallConvNet
from ..utils import eval_mode
from .base import Example
from .clip import CLIP, TextEncoder

# Factors a rewrite can swap, in the order of the K hard negatives.
SWAP_FACTORS = ("shape", "colour", "position", "size")
# Augmentation for unpaired images: mild crops and noise only; no flip (it would turn "left"
# into "right") and no colour jitter (it would change the colour word).
IMAGE_ONLY_AUGMENT = AugmentConfig(crop_scale=(0.6, 1.0), flip=0.0, jitter=0.0, grayscale=0.0,
                                   noise=0.03)  # fmt: skip


def describe(
    attributes: dict[str, Tensor], classes: list[str], index: int, template: int,
    swap: dict[str, int] | None = None,
) -> str:  # fmt: skip
    """The caption of row ``index`` written with ``TEMPLATES[template]``; ``swap`` replaces
    factor values (word indices) first, e.g. ``{"colour": 3}``."""
    vals = {f: int(attributes[f][index]) for f in SWAP_FACTORS}
    vals.update(swap or {})
    slots = {
        "shape": classes[vals["shape"]].replace("_", " "),
        "colour": COLOUR_NAMES[vals["colour"]],
        "where": POSITION_PHRASES[vals["position"]],
        "size": SIZE_NAMES[vals["size"]],
        "background": None,
    }
    return _fill(TEMPLATES[template], slots)


def rewrite(
    attributes: dict[str, Tensor],
    classes: list[str],
    n_paraphrases: int = 1,
    n_swaps: int = 1,
    seed: int = 0,
    length: int = 16,
) -> tuple[Tensor, Tensor]:
    """Rewritten captions for every row: paraphrases (positives) and one-factor swaps (hard
    negatives).

    Args:
        attributes: ground-truth word indices per factor (``CaptionedShapes.attributes``).
        classes: the shape class names.
        n_paraphrases: paraphrases per row, each with a random template (the facts stay).
        n_swaps: rewrites per factor (each a random other value and template).
        seed: seeds the templates and the swapped values.
        length: tokens per caption (padding).

    Returns:
        ``(paraphrases (N, n_paraphrases, L), negatives (N, 4 * n_swaps, L))``: negative ``k``
        swaps ``SWAP_FACTORS[k % 4]`` for another value of that factor.
    """
    if n_paraphrases < 0:
        raise ValueError(f"n_paraphrases must be >= 0, got {n_paraphrases}")
    if n_swaps < 1:
        raise ValueError(f"n_swaps must be >= 1, got {n_swaps}")
    n = int(attributes["shape"].shape[0])
    g = torch.Generator().manual_seed(seed)
    sizes = {"shape": len(classes), "colour": len(COLOUR_NAMES),
             "position": len(POSITION_PHRASES), "size": len(SIZE_NAMES)}  # fmt: skip
    para, neg = [], []
    for i in range(n):
        k_all = n_swaps * len(SWAP_FACTORS)
        t = torch.randint(0, len(TEMPLATES), (n_paraphrases + k_all,), generator=g)
        para += [describe(attributes, classes, i, int(t[p])) for p in range(n_paraphrases)]
        for k in range(k_all):
            f = SWAP_FACTORS[k % len(SWAP_FACTORS)]
            shift = int(torch.randint(1, sizes[f], (1,), generator=g))  # never the true value
            new = (int(attributes[f][i]) + shift) % sizes[f]
            neg.append(describe(attributes, classes, i, int(t[n_paraphrases + k]), {f: new}))
    p_tok = tokenize(para, length) if para else torch.zeros(0, length, dtype=torch.long)
    return p_tok.reshape(n, n_paraphrases, length), tokenize(neg, length).reshape(n, -1, length)


class UNIMO(CLIP):
    """CLIP's two towers trained with CMCL on rewritten texts, plus unpaired single-modal data.

    Args:
        image_encoder, text_encoder, embed_dim, temperature: as in :class:`clip.CLIP`.
        hard_negatives: use the rewrite negatives (False: in-batch negatives only).
        paraphrases: use the paraphrase positives (False: the caption alone).
        unpaired_images: ``(M, C, H, W)`` images without captions, or None.
        unpaired_texts: ``(M, 2, L)`` texts without images, each as two paraphrases, or None.
        unpaired_weight: lambda, the weight of the single-modal terms.
        unpaired_batch: rows of each unpaired set drawn per step.
        unpaired_temperature: temperature of the single-modal ``nt_xent`` terms.

    The batch is ``(images, captions (N, L), paraphrases (N, P, L), negatives (N, K, L))``:
    image-caption pairs (``input_kind`` "image_text") with each caption's rewrites.
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 64,
        temperature: float = 0.07,
        hard_negatives: bool = True,
        paraphrases: bool = True,
        unpaired_images: Tensor | None = None,
        unpaired_texts: Tensor | None = None,
        unpaired_weight: float = 0.5,
        unpaired_batch: int = 128,
        unpaired_temperature: float = 0.2,
    ) -> None:
        super().__init__(image_encoder, text_encoder, embed_dim, temperature)
        if unpaired_weight < 0:
            raise ValueError(f"unpaired_weight must be >= 0, got {unpaired_weight}")
        if unpaired_batch < 2:
            raise ValueError(f"unpaired_batch must be >= 2, got {unpaired_batch}")
        if unpaired_texts is not None and (
            unpaired_texts.ndim != 3 or unpaired_texts.shape[1] != 2
        ):
            raise ValueError(
                "unpaired_texts must be (M, 2, L) paraphrase pairs, got "
                f"{tuple(unpaired_texts.shape)}"
            )
        self.hard_negatives, self.paraphrases = hard_negatives, paraphrases
        self.unpaired_images, self.unpaired_texts = unpaired_images, unpaired_texts
        self.unpaired_weight, self.unpaired_batch = unpaired_weight, unpaired_batch
        self.unpaired_temperature = unpaired_temperature
        self._gen: torch.Generator | None = None

    def _draw(self, data: Tensor, device: torch.device) -> Tensor:
        if self._gen is None:
            self._gen = torch.Generator().manual_seed(int(torch.initial_seed()) % 2**31)
        idx = torch.randint(
            0, len(data), (min(self.unpaired_batch, len(data)),), generator=self._gen
        )
        return data[idx].to(device)

    def loss(self, batch: tuple[Tensor, ...]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 4:
            raise TypeError(
                "UNIMO needs (images, captions, paraphrases, negatives) batches: "
                "fit(model, (x, tokens, para, neg))"
            )
        x, tokens, para, neg = batch[:4]
        n, length = tokens.shape
        a = self.image_proj(self.image_encoder(x))  # (N, E)
        texts = [tokens[:, None]] + ([para] if self.paraphrases and para.shape[1] else [])
        pos_tok = torch.cat(texts, dim=1)  # (N, P, L)
        p = pos_tok.shape[1]
        k = neg.shape[1] if self.hard_negatives else 0
        all_tok = torch.cat([pos_tok.reshape(-1, length), neg.reshape(-1, length)[: n * k]])
        b = self.text_proj(self.text_encoder(all_tok))  # (N*P + N*K, E)
        pos = b[: n * p].reshape(n, p, -1)
        negs = b[n * p :].reshape(n, k, -1) if k else None
        loss = cmcl_loss(a, pos, negs, self.temperature)
        if self.unpaired_weight > 0 and self.unpaired_images is not None:
            u = self._draw(self.unpaired_images, x.device)
            v1, v2 = augment(u, IMAGE_ONLY_AUGMENT), augment(u, IMAGE_ONLY_AUGMENT)
            z = self.image_proj(self.image_encoder(torch.cat([v1, v2])))
            loss = loss + self.unpaired_weight * nt_xent(*z.chunk(2), self.unpaired_temperature)
        if self.unpaired_weight > 0 and self.unpaired_texts is not None:
            w = self._draw(self.unpaired_texts, x.device)  # (M, 2, L)
            z = self.text_proj(self.text_encoder(w.transpose(0, 1).reshape(-1, w.shape[-1])))
            loss = loss + self.unpaired_weight * nt_xent(*z.chunk(2), self.unpaired_temperature)
        return loss

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A small model, 8 toy images with 6-word captions, 2 paraphrases and 4 rewrites each
        (random words), and the images for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        tokens = torch.randint(1, 20, (8, 6), generator=g)
        para = torch.randint(1, 20, (8, 2, 6), generator=g)
        neg = torch.randint(1, 20, (8, 4, 6), generator=g)
        torch.manual_seed(seed)
        model = cls(SmallConvNet(widths=(8, 16)), TextEncoder(20, 16), embed_dim=16)
        return Example(model, (x, tokens, para, neg), x)


@torch.no_grad()
def swap_test(model: CLIP, x: Tensor, tokens: Tensor, negatives: Tensor) -> dict[str, float]:
    """Fine-grained matching: how often an image scores its true caption above the rewrite
    that swaps one factor (chance 0.5).

    Args:
        x: ``(N, C, H, W)`` images. tokens: ``(N, L)`` their captions.
        negatives: ``(N, K, L)`` rewrites, negative ``k`` swapping ``SWAP_FACTORS[k % 4]``.

    Returns:
        ``{factor: accuracy}`` for each swapped factor and ``"mean"`` over them.
    """
    if negatives.ndim != 3 or len(negatives) != len(x) or len(tokens) != len(x):
        raise ValueError(
            f"x, tokens and negatives must have the same rows N (negatives (N, K, L)), got "
            f"{len(x)}, {len(tokens)}, {tuple(negatives.shape)}"
        )
    dev = model.log_scale.device
    with eval_mode(model):
        v = torch.cat([model.encode_image(x[i : i + 1024].to(dev)) for i in range(0, len(x), 1024)])
        t = model.encode_text(tokens.to(dev))  # (N, E)
        u = model.encode_text(negatives.reshape(-1, negatives.shape[-1]).to(dev))
    u = u.reshape(len(x), negatives.shape[1], -1)
    true = (v * t).sum(dim=1)  # (N,)
    fake = torch.einsum("ne,nke->nk", v, u)  # (N, K)
    win = (true[:, None] > fake).float().cpu()  # (N, K)
    factor = torch.arange(win.shape[1]) % len(SWAP_FACTORS)
    out = {f: float(win[:, factor == k].mean()) for k, f in enumerate(SWAP_FACTORS)
           if (factor == k).any()}  # fmt: skip
    out["mean"] = float(win.mean())
    return out


METHOD = UNIMO
