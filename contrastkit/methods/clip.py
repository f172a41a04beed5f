"""CLIP: an image encoder and a text encoder trained so that matching pairs line up.

Reference: Alec Radford, Jong Wook Kim, Chris Hallacy, Aditya Ramesh, Gabriel Goh, Sandhini
Agarwal, Girish Sastry, Amanda Askell, Pamela Mishkin, Jack Clark, Gretchen Krueger, Ilya
Sutskever, "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021,
https://arxiv.org/abs/2103.00020.

    a = normalise(W_i f(image))              (N, E) image embeddings
    b = normalise(W_t g(caption))            (N, E) caption embeddings
    s = a b^T / t                            (N, N): row i's positive is column i
    loss = (CE(s, I) + CE(s^T, I)) / 2       image->text and text->image, symmetric
    t = exp(-log_scale)                      learned; log_scale clamped to [0, log 100]

Zero-shot classification: embed one prompt per class ("a photo of a star", ...) with the text
encoder and give each image the class whose prompt it is most similar to; no labels are used.

Scaled down: a 16-32-64-128 ConvNet instead of a ResNet-50 / ViT, and a bag-of-words text
encoder (word embeddings, mean over the caption, an MLP; a 1-layer GRU as the alternative)
instead of a 12-layer Transformer; a few thousand generated captioned shapes instead of 400
million web pairs; batch 256 instead of 32,768. The temperature's parametrisation, its 0.07
start and its clamp at 100 (``1 / t <= 100``) are the paper's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..distributed import global_clip_loss
from ..models import SmallConvNet
from ..utils import eval_mode
from .base import Example, Method


class TextEncoder(nn.Module):
    """A tiny caption encoder: word embeddings, then a mean over the words (or a GRU), then an MLP.

    Args:
        vocab_size: number of token ids (id 0 is padding and is ignored).
        dim: width of the word embeddings and of the output.
        kind: ``"mean"`` (bag of words: order-blind, fast) or ``"gru"`` (one GRU layer, reads
            the order; its final state is the caption's vector).
    """

    def __init__(self, vocab_size: int, dim: int = 128, kind: str = "mean") -> None:
        super().__init__()
        if kind not in ("mean", "gru"):
            raise ValueError(f"kind must be 'mean' or 'gru', got {kind!r}")
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.gru = nn.GRU(dim, dim, batch_first=True) if kind == "gru" else None
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        self.out_dim = dim

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(
                f"tokens must be int64 (B, L) ids, got {tuple(tokens.shape)} {tokens.dtype}"
            )
        mask = (tokens != 0).float()[..., None]  # (B, L, 1): 0 on padding
        lengths = mask.sum(dim=1).clamp(min=1)  # (B, 1)
        e = self.embedding(tokens)  # (B, L, dim)
        if self.gru is None:
            h = (e * mask).sum(dim=1) / lengths  # (B, dim) mean over the real words
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                e, lengths.flatten().long().cpu(), batch_first=True, enforce_sorted=False
            )
            h = self.gru(packed)[1][-1]  # (B, dim) the state after each caption's last word
        return self.mlp(h)


class CLIP(Method):
    """Image and text encoders with linear projections into a shared space and a learned t.

    Args:
        image_encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        text_encoder: any module mapping ``(B, L)`` token ids to ``(B, out_dim)``.
        embed_dim: size of the shared embedding space.
        temperature: the starting temperature (0.07 in the paper).
        learn_temperature: learn ``log(1 / t)`` (the paper) or keep ``t`` fixed.
        max_logit_scale: the clamp on ``1 / t`` (100 in the paper).
        augment: optional image augmentation (``None``: CLIP used only a random square crop;
            here crops and colour jitter would falsify the caption's position and colour).

    The batch is ``(images, tokens)``: ``fit(model, (x, tokens))``; row i of each pairs up.

    Example:
        >>> model = CLIP(SmallConvNet(), TextEncoder(len(VOCAB)), embed_dim=64)
        >>> hist = fit(model, data.pairs(), steps=300)
        >>> pred = model.classify(test.x, tokenize([f"a {c}" for c in data.classes]))
    """

    input_kind = "image_text"

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 64,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
        augment: AugmentConfig | str | None = None,
    ) -> None:
        super().__init__()
        if not 0 < temperature:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not max_logit_scale >= 1:
            raise ValueError(f"max_logit_scale must be >= 1, got {max_logit_scale}")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.image_proj = nn.Linear(image_encoder.out_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_encoder.out_dim, embed_dim, bias=False)
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(1 / temperature)), requires_grad=learn_temperature
        )
        self.max_log_scale = math.log(max_logit_scale)
        self.augment = augment

    @property
    def temperature(self) -> Tensor:
        """``t = exp(-log_scale)``, a scalar tensor (attached to the graph when learned)."""
        return self.log_scale.clamp(0, self.max_log_scale).neg().exp()

    def encode_image(self, x: Tensor) -> Tensor:
        """``(N, E)`` unit-length image embeddings in the shared space."""
        return F.normalize(self.image_proj(self.image_encoder(x)), dim=1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """``(B, E)`` unit-length caption embeddings in the shared space."""
        return F.normalize(self.text_proj(self.text_encoder(tokens)), dim=1)

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("CLIP needs (images, tokens) batches: fit(model, (x, tokens))")
        x, tokens = batch[0], batch[1]  # (N, C, H, W), (N, L)
        if self.augment is not None:
            x = augment(x, self.augment)
        a = self.image_proj(self.image_encoder(x))  # (N, E); clip_loss normalises
        b = self.text_proj(self.text_encoder(tokens))  # (N, E)
        # clip_loss itself in one process; under torchrun, every rank's pairs are candidates
        return global_clip_loss(a, b, self.temperature)

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        # The paper clips the parameter itself, so that the gradient is never silently zero.
        self.log_scale.clamp_(0, self.max_log_scale)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the image encoder's output (before projection)."""
        return self.image_encoder(x)

    @torch.no_grad()
    def similarity(self, x: Tensor, tokens: Tensor, batch_size: int = 1024) -> Tensor:
        """``(N, B)`` cosine similarities between ``N`` images and ``B`` captions (eval mode)."""
        dev = self.log_scale.device
        with eval_mode(self):
            text = self.encode_text(tokens.to(dev))
            sims = [
                (self.encode_image(x[i : i + batch_size].to(dev)) @ text.T).cpu()
                for i in range(0, len(x), batch_size)
            ]
        return torch.cat(sims)

    def classify(self, x: Tensor, prompts: Tensor) -> Tensor:
        """Zero-shot labels ``(N,)``: the index of the prompt (one per class) nearest each image."""
        return self.similarity(x, prompts).argmax(dim=1)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A small model (subclasses with CLIP's first arguments get theirs), 8 captioned toy
        images (random 16-pixel images, random 6-word captions) and the images for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        tokens = torch.randint(1, 20, (8, 6), generator=g)
        torch.manual_seed(seed)
        model = cls(SmallConvNet(widths=(8, 16)), TextEncoder(20, 16), embed_dim=16)
        return Example(model, (x, tokens), x)


# ---------------------------------------------------------------------------------------------
# Zero-shot classification and retrieval: pure functions behind the notebook's controls
# ---------------------------------------------------------------------------------------------

# Prompt templates for zero-shot classification ("{}" is the class name).
PROMPT_TEMPLATES: list[str] = [
    "a {}",
    "a photo of a {}",
    "there is a {}",
    "the {}",
    "an image of a {}",
    "a {} in the centre",
    "a large {}",
]


def class_prompts(classes: list[str], template: str = "a {}") -> list[str]:
    """One prompt per class: ``template`` filled with the class name (``half_moon`` -> "half
    moon"), "a" turned into "an" before a vowel."""
    if "{}" not in template:
        raise ValueError(f"template must contain '{{}}' for the class name, got {template!r}")
    prompts = []
    for c in classes:
        words = template.format(c.replace("_", " ")).split()
        for i, w in enumerate(words[:-1]):
            if w in ("a", "an"):
                words[i] = "an" if words[i + 1][0] in "aeiou" else "a"
        prompts.append(" ".join(words))
    return prompts


def zero_shot(
    model: CLIP, x: Tensor, y: Tensor, classes: list[str], template: str = "a {}"
) -> dict:
    """Zero-shot classification of ``x`` by the prompts ``template`` makes for ``classes``.

    Returns:
        ``{"accuracy": float, "per_class": (C,) tensor of recalls, "pred": (N,) labels,
        "prompts": the prompt strings}``.
    """
    from ..data.captions import tokenize

    prompts = class_prompts(classes, template)
    pred = model.classify(x, tokenize(prompts))
    y = y.cpu()
    per_class = torch.stack(
        [
            (pred[y == c] == c).float().mean() if (y == c).any() else torch.tensor(float("nan"))
            for c in range(len(classes))
        ]
    )
    return {
        "accuracy": float((pred == y).float().mean()),
        "per_class": per_class,
        "pred": pred,
        "prompts": prompts,
    }


def top_images(model: CLIP, x: Tensor, query: Tensor, k: int = 8) -> tuple[Tensor, Tensor]:
    """Text -> image retrieval: the ``k`` images of ``x`` nearest a tokenized query ``(L,)``.

    Returns:
        ``(indices (k,), cosines (k,))``, best first.
    """
    sims = model.similarity(x, query.reshape(1, -1))[:, 0]  # (N,)
    top = sims.topk(min(k, len(sims)))
    return top.indices, top.values


def top_captions(model: CLIP, x: Tensor, tokens: Tensor, k: int = 3) -> tuple[Tensor, Tensor]:
    """Image -> text retrieval: for each image, the ``k`` nearest of the candidate captions.

    Returns:
        ``(indices (N, k), cosines (N, k))`` into ``tokens``' rows, best first.
    """
    top = model.similarity(x, tokens).topk(min(k, tokens.shape[0]), dim=1)
    return top.indices, top.values


METHOD = CLIP
