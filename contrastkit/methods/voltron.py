"""Voltron: language-driven representation learning from video, by reconstruction and captioning.

Reference: Siddharth Karamcheti, Suraj Nair, Annie S. Chen, Thomas Kollar, Chelsea Finn, Dorsa
Sadigh, Percy Liang, "Language-Driven Representation Learning for Robotics", RSS 2023,
https://arxiv.org/abs/2302.12766 (code: https://github.com/siddk/voltron-robotics).

Masked autoencoding (MAE, MVP) learns where things are and what they look like, but little of
what is happening; contrastive video-language learning (CLIP, R3M) learns what is happening and
throws the spatial detail away. Voltron trains one encoder on frames *and* their caption with
two objectives, switched per example by the generation ratio ``alpha``:

    keep, mask = random_masking(frames x patches, ratio 0.75)   the encoder sees 25% of patches
    with prob. 1 - alpha (conditioning):  h = Enc([caption tokens ; visible patches])
    with prob. alpha     (generation):    h = Enc([visible patches])          caption withheld
    L_MAE = sum_{masked p} || x_p - Dec(h)_p ||^2 / #masked        every example
    L_LM  = - sum_t log p(w_t | w_<t, h)                           generation examples only
    L = L_MAE + lambda * L_LM,     lambda = 0.5, alpha = 0.5 (the repo's config)

With two-frame clips, ``alpha = 0`` (language only as a conditioning input) is the paper's
V-Dual and ``alpha = 0.5`` its V-Gen; the paper's V-Cond is the single-frame model conditioned on
language (``alpha = 0`` on one frame). ``language=False`` drops the caption entirely, which is
MAE / MVP, the paper's baseline.
The representation used downstream is the encoder on *all* patches of both frames, with no
caption (the probes must not read the answer from the instruction): the mean token of each frame,
concatenated (``embed``), or the patch tokens themselves (``patch_tokens``).

The contrastive baseline is the library's :class:`~contrastkit.methods.clip.CLIP` with the same
video encoder (``VideoViT``) and the bag-of-words ``TextEncoder``: clip-level InfoNCE between the
two-frame clip and its instruction (the role R3M's video-language contrast plays in the paper).

Assumptions: our reading of the repo is that reconstruction is applied to every example
and language modelling only to the generation ones; we follow it. The reconstruction target is
raw pixels (``norm_pix=False``): with plain backgrounds and pixel noise, per-patch
standardisation (MAE's best setting on natural images) would turn background patches into pure
noise targets.

Scaled down: 16x16 two-frame clips of a grey "hand" pushing a coloured shape
(:func:`~contrastkit.data.multimodal.make_robot_clips`, "push the red square left") instead of
Something-Something-v2; a 2-layer, width-64 ViT with 4x4 patches (32 tokens for two frames)
instead of ViT-S (12 x 384); a 1-layer decoder of width 64 and a 1-layer causal Transformer
captioner instead of the 6 x 192 decoder and DistilBERT; Adam and a few hundred steps instead of
AdamW for 400 epochs. The five robotics evaluations are replaced by two frozen linear probes:
a *low-level* one (regress the object's position in both frames) and a *high-level* one (the
push direction and the object's shape).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import patchify, random_masking
from ..losses import masked_reconstruction_loss
from ..metrics import linear_probe_accuracy
from ..utils import eval_mode
from .base import Example, Method

__all__ = [
    "VideoViT",
    "Voltron",
    "clip_baseline",
    "probe_scores",
    "ridge_r2",
    "patch_features",
    "dense_iou",
]


def _layers(dim: int, heads: int, depth: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)


class VideoViT(nn.Module):
    """A tiny ViT over the patches of ``F`` frames, with an optional language prefix.

    Tokens: ``Linear(patch pixels) + position + frame`` for every patch of every frame, and
    ``word embedding + word position`` for the caption (padding ignored). ``forward(video)`` is
    the pooled representation ``(N, F * dim)``: each frame's mean output token, concatenated.

    Args:
        image_size, patch: square frames of ``image_size`` pixels cut into ``patch`` squares.
        frames: frames per clip. dim, depth, heads: the Transformer's width, layers and heads.
        vocab_size, max_words: the caption vocabulary and longest caption (0: no language).
    """

    def __init__(
        self,
        image_size: int = 16,
        patch: int = 4,
        frames: int = 2,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        vocab_size: int = 0,
        max_words: int = 8,
        channels: int = 3,
    ) -> None:
        super().__init__()
        if image_size % patch:
            raise ValueError(f"patch must divide image_size, got {patch} and {image_size}")
        self.image_size, self.patch, self.frames, self.channels = (
            image_size,
            patch,
            frames,
            channels,
        )
        self.n_patches = (image_size // patch) ** 2
        self.embed_patch = nn.Linear(channels * patch * patch, dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, 1, self.n_patches, dim))
        self.frame = nn.Parameter(0.02 * torch.randn(1, frames, 1, dim))
        self.words = nn.Embedding(vocab_size, dim, padding_idx=0) if vocab_size else None
        self.word_pos = nn.Parameter(0.02 * torch.randn(1, max_words, dim)) if vocab_size else None
        self.blocks = _layers(dim, heads, depth)
        self.norm = nn.LayerNorm(dim)
        self.dim = dim
        self.out_dim = frames * dim

    def patch_inputs(self, video: Tensor) -> Tensor:
        """``(N, F, C, S, S)`` clips -> ``(N, F * P, C p p)`` patches, frame after frame."""
        if video.ndim != 5 or video.shape[1] != self.frames:
            raise ValueError(
                f"video must be (N, {self.frames}, C, S, S), got shape {tuple(video.shape)}"
            )
        n = video.shape[0]
        return patchify(video.flatten(0, 1), self.patch).reshape(
            n, self.frames * self.n_patches, -1
        )

    def tokens(
        self, video: Tensor, words: Tensor | None = None, keep: Tensor | None = None
    ) -> Tensor:
        """Encoded visual tokens ``(N, K, dim)``: all ``F * P`` of them, or those in ``keep``.

        Args:
            video: ``(N, F, C, S, S)``. words: optional ``(N, L)`` caption ids (0 = padding, so a
                row of zeros means "no caption"). keep: optional ``(N, K)`` visible-token indices.
        """
        x = self.embed_patch(self.patch_inputs(video))  # (N, F*P, dim)
        x = x + (self.pos + self.frame).flatten(1, 2)
        if keep is not None:
            x = x.gather(1, keep[..., None].expand(-1, -1, x.shape[-1]))  # (N, K, dim)
        k = x.shape[1]
        pad = None
        if words is not None:
            if self.words is None:
                raise ValueError(
                    "this encoder has no vocabulary (vocab_size=0): words must be None"
                )
            w = self.words(words) + self.word_pos[:, : words.shape[1]]  # (N, L, dim)
            x = torch.cat([x, w], dim=1)
            visual = torch.zeros(x.shape[0], k, dtype=torch.bool, device=x.device)
            pad = torch.cat([visual, words == 0], dim=1)  # (N, K + L): True = ignore
        return self.norm(self.blocks(x, src_key_padding_mask=pad))[:, :k]

    def forward(self, video: Tensor) -> Tensor:
        h = self.tokens(video)  # (N, F*P, dim)
        return h.reshape(h.shape[0], self.frames, self.n_patches, -1).mean(2).flatten(1)


class Voltron(Method):
    """Language-conditioned masked reconstruction plus caption generation (``alpha``).

    Args:
        vocab_size, max_words: the caption vocabulary and length (``RobotClips.vocab``).
        language: False gives MAE (no caption anywhere; ``alpha`` and ``lm_weight`` unused).
        alpha: the generation ratio: the share of examples whose caption is withheld from the
            encoder and generated instead (with two-frame clips, 0: the paper's V-Dual;
            0.5: its V-Gen, the default; V-Cond is the single-frame model with 0).
        mask_ratio: hidden share of the patches (0.75). lm_weight: ``lambda`` (0.5).
        norm_pix: standardise the target patches (see the module docstring).
        image_size, patch, frames, dim, depth, heads: the ``VideoViT``'s.

    Example:
        >>> clips = make_robot_clips(3000, seed=0)
        >>> model = Voltron(len(clips.vocab), clips.tokens.shape[1], alpha=0.5)
        >>> hist = ck.fit(model, clips.tensors(), steps=400, batch_size=128)
        >>> z = model.embed(clips.video)                # (N, 2 * 64), no caption needed

    ``loss`` also reports the two parts, ``{"mae", "lm"}``, which ``fit`` logs in
    ``History.metrics``.
    """

    input_kind = "video_text"

    def __init__(
        self,
        vocab_size: int,
        max_words: int = 8,
        language: bool = True,
        alpha: float = 0.5,
        mask_ratio: float = 0.75,
        lm_weight: float = 0.5,
        norm_pix: bool = False,
        image_size: int = 16,
        patch: int = 4,
        frames: int = 2,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
    ) -> None:
        super().__init__()
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}")
        if lm_weight < 0:
            raise ValueError(f"lm_weight must be >= 0, got {lm_weight!r}")
        self.language, self.alpha, self.mask_ratio = language, alpha, mask_ratio
        self.lm_weight, self.norm_pix = lm_weight, norm_pix
        self.encoder = VideoViT(
            image_size, patch, frames, dim, depth, heads, vocab_size if language else 0, max_words
        )
        enc = self.encoder
        # MAE decoder: visible tokens + a shared mask token at every hidden place -> pixels
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dec_pos = nn.Parameter(0.02 * torch.randn(1, frames * enc.n_patches, dim))
        self.decoder = _layers(dim, heads, 1)
        self.to_pixels = nn.Linear(dim, enc.channels * patch * patch)
        # Captioner: a causal Transformer layer that attends to the visual tokens (V-Gen)
        self.bos = vocab_size  # one extra id: beginning of sentence
        self.lm_words = nn.Embedding(vocab_size + 1, dim)
        self.lm_pos = nn.Parameter(0.02 * torch.randn(1, max_words, dim))
        self.lm = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(
                dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
            ),
            1,
        )
        self.to_words = nn.Linear(dim, vocab_size)
        self.out_dim = enc.out_dim

    # -- the two objectives ------------------------------------------------------------------

    def reconstruct(self, h: Tensor, keep: Tensor, n_tokens: int) -> Tensor:
        """Decoder: visible tokens ``h (N, K, dim)`` back in place, mask tokens elsewhere ->
        ``(N, F * P, C p p)`` predicted patches."""
        n, _, d = h.shape
        full = self.mask_token.expand(n, n_tokens, d).clone()
        full = full.scatter(1, keep[..., None].expand(-1, -1, d), h)
        return self.to_pixels(self.decoder(full + self.dec_pos))

    def caption_logits(self, h: Tensor, words: Tensor) -> Tensor:
        """Teacher-forced next-word logits ``(N, L, V)``: ``p(w_t | w_<t, visual tokens h)``."""
        n, length = words.shape
        shifted = torch.cat([words.new_full((n, 1), self.bos), words[:, :-1]], dim=1)
        x = self.lm_words(shifted) + self.lm_pos[:, :length]
        causal = nn.Transformer.generate_square_subsequent_mask(length, device=words.device)
        return self.to_words(self.lm(x, h, tgt_mask=causal, tgt_is_causal=True))

    def terms(self, video: Tensor, words: Tensor) -> dict[str, Tensor]:
        """The loss's parts for a batch: ``{"mae", "lm", "loss"}``."""
        n = video.shape[0]
        n_tokens = self.encoder.frames * self.encoder.n_patches
        keep, mask = random_masking(n, n_tokens, self.mask_ratio, device=video.device)
        target = self.encoder.patch_inputs(video)  # (N, F*P, C p p)
        if not self.language:
            h = self.encoder.tokens(video, keep=keep)
            mae = masked_reconstruction_loss(
                self.reconstruct(h, keep, n_tokens), target, mask, self.norm_pix
            )
            return {"mae": mae, "lm": mae.new_zeros(()), "loss": mae}
        gen = torch.rand(n, device=video.device) < self.alpha  # (N,) caption withheld
        given = words.masked_fill(gen[:, None], 0)  # an all-padding caption is "none"
        h = self.encoder.tokens(video, given, keep)  # (N, K, dim)
        mae = masked_reconstruction_loss(
            self.reconstruct(h, keep, n_tokens), target, mask, self.norm_pix
        )
        lm = mae.new_zeros(())
        if gen.any():
            logits = self.caption_logits(h[gen], words[gen])  # (G, L, V)
            target_words = words[gen].masked_fill(words[gen] == 0, -100)  # padding ignored
            lm = F.cross_entropy(logits.flatten(0, 1), target_words.flatten(), ignore_index=-100)
        return {"mae": mae, "lm": lm, "loss": mae + self.lm_weight * lm}

    def loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("Voltron needs (video, tokens) batches: fit(model, clips.tensors())")
        parts = self.terms(batch[0], batch[1])
        return parts["loss"], {k: float(parts[k].detach()) for k in ("mae", "lm")}

    # -- what downstream tasks get -----------------------------------------------------------

    def embed(self, video: Tensor) -> Tensor:
        """``(N, F * dim)``: each frame's mean token, all patches visible, no caption."""
        return self.encoder(video)

    @torch.no_grad()
    def generate(self, video: Tensor, length: int) -> Tensor:
        """Greedy captions ``(N, length)`` from the full clips (no caption given)."""
        h = self.encoder.tokens(video)
        words = torch.zeros(video.shape[0], 0, dtype=torch.long, device=video.device)
        for _ in range(length):
            padded = torch.cat([words, words.new_zeros(len(words), 1)], dim=1)
            nxt = self.caption_logits(h, padded)[:, -1].argmax(-1)
            words = torch.cat([words, nxt[:, None]], dim=1)
        return words

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        video = torch.rand(6, 2, 3, 8, 8, generator=g)  # (N, F, C, S, S)
        words = torch.randint(1, 12, (6, 5), generator=g)
        model = cls(12, 5, image_size=8, patch=4, dim=16, depth=1, heads=2)
        return Example(model, (video, words), video)


def clip_baseline(vocab_size: int, dim: int = 64, depth: int = 2, **vit) -> nn.Module:
    """The contrastive baseline: ``CLIP(VideoViT, TextEncoder)`` on (clip, instruction) pairs."""
    from .clip import CLIP, TextEncoder

    encoder = VideoViT(dim=dim, depth=depth, **vit)
    return CLIP(encoder, TextEncoder(vocab_size, dim), embed_dim=dim)


# ---------------------------------------------------------------------------------------------
# Probes and figures: pure functions behind the notebook's tables and controls
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def patch_features(model: nn.Module, video: Tensor, batch_size: int = 1000) -> Tensor:
    """The video encoder's output tokens ``(N, F * P, dim)`` (all patches, no caption), on CPU.

    Works for ``Voltron`` (its ``encoder``) and for ``clip_baseline`` (its ``image_encoder``).
    """
    enc = model.encoder if hasattr(model, "encoder") else model.image_encoder
    dev = next(model.parameters()).device
    with eval_mode(model):
        out = [
            enc.tokens(video[i : i + batch_size].to(dev)).cpu()
            for i in range(0, len(video), batch_size)
        ]
    return torch.cat(out)


def _ridge_fit(x: Tensor, t: Tensor, l2: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    xs = (x - mean) / std
    tmean = t.mean(0)
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    w = torch.linalg.solve(xs.T @ xs + l2 * len(xs) * eye, xs.T @ (t - tmean))
    return mean, std, w, tmean


def dense_iou(
    train_tokens: Tensor,
    train_mask: Tensor,
    test_tokens: Tensor,
    test_mask: Tensor,
    patch: int,
    l2: float = 1e-2,
) -> float:
    """Object-mask IoU of a per-patch linear read-out of the patch tokens (a dense probe).

    Every token predicts its patch's ``patch x patch`` mask pixels by ridge regression; pixels
    above 0.5 are "object". Returns the test IoU over all pixels of all frames.

    Args:
        train_tokens, test_tokens: ``(N, F * P, D)``. train_mask, test_mask: ``(N, F, S, S)``
            bool object masks (``RobotClips.mask``). patch: the patch side in pixels.
    """

    def targets(mask: Tensor) -> Tensor:  # (N, F, S, S) -> (N * F * P, p * p)
        flat = patchify(mask.flatten(0, 1)[:, None].double(), patch)
        return flat.reshape(-1, patch * patch)

    xtr, xte = train_tokens.flatten(0, 1).double(), test_tokens.flatten(0, 1).double()
    mean, std, w, tmean = _ridge_fit(xtr, targets(train_mask), l2)
    pred = ((xte - mean) / std) @ w + tmean > 0.5
    true = targets(test_mask) > 0.5
    return float((pred & true).sum() / (pred | true).sum().clamp_min(1))


def ridge_r2(
    train_z: Tensor, train_t: Tensor, test_z: Tensor, test_t: Tensor, l2: float = 1e-2
) -> float:
    """Test R^2 (averaged over targets) of a closed-form ridge regression on standardised features.

    Args:
        train_z, test_z: ``(N, D)`` features. train_t, test_t: ``(N, T)`` real targets.
        l2: the ridge penalty per training row (scaled by N).

    Raises:
        ValueError: not 2-D, or rows that do not match (named).
    """
    for name, a in (
        ("train_z", train_z),
        ("train_t", train_t),
        ("test_z", test_z),
        ("test_t", test_t),
    ):
        if not isinstance(a, Tensor) or a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D tensor")
    if len(train_z) != len(train_t) or len(test_z) != len(test_t):
        raise ValueError("train_z/train_t and test_z/test_t must have the same rows")
    mean, std, w, tmean = _ridge_fit(train_z.double(), train_t.double(), l2)
    tte = test_t.double()
    pred = ((test_z.double() - mean) / std) @ w + tmean
    r2 = 1 - ((pred - tte) ** 2).sum(0) / ((tte - tte.mean(0)) ** 2).sum(0)
    return float(r2.mean())


def probe_scores(train_z: Tensor, test_z: Tensor, train, test) -> dict[str, float]:
    """The two frozen probes on features of ``RobotClips`` ``train``/``test``.

    ``low``: R^2 of the object's position in both frames (ridge; spatial, low-level).
    ``high``: mean linear-probe accuracy of the push direction and the object's shape.
    """
    low = ridge_r2(train_z, train.position.flatten(1), test_z, test.position.flatten(1))
    action = linear_probe_accuracy(train_z, train.action, test_z, test.action)
    shape = linear_probe_accuracy(train_z, train.shape, test_z, test.shape)
    return {"low": low, "action": action, "shape": shape, "high": (action + shape) / 2}


METHOD = Voltron
