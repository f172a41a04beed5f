"""mPLUG-2's modular design: modality-specific modules around universal modules that all share.

Reference: Haiyang Xu, Qinghao Ye, Ming Yan, Yaya Shi, Jiabo Ye, Yuanhong Xu, Chenliang Li,
Bin Bi, Qi Qian, Wei Wang, Guohai Xu, Ji Zhang, Songfang Huang, Fei Huang, Jingren Zhou,
"mPLUG-2: A Modularized Multi-modal Foundation Model Across Text, Image and Video", ICML 2023,
https://arxiv.org/abs/2302.00402 (code: github.com/X-PLUG/mPLUG-2, downstream code only).

mPLUG-2 composes modules instead of training one tower per modality. Its dual vision encoder
runs the *same* spatial layers on an image and on every frame of a video, and only video adds
a small local temporal module; text and vision then pass through shared universal layers. So
video-text training, which has few pairs, borrows what the many image-text pairs taught::

    image i:   h = U(A_v(S(i)))                    S: spatial encoder, shared with video frames
    video v:   h = U(A_v(mean_f S(v_f) + T(S(v_1..F))))   T: video-only local temporal module
    text  c:   h = U(A_t(E_t(c)))                  E_t: text encoder
    U(h) = h + MLP(LayerNorm(h))                   the universal layer, one for all modalities
    loss = clip_loss(P_i h_image, P_c h_text) + video_weight * clip_loss(P_v h_video, P_c h_text)

(``clip_loss`` is the image-text contrastive loss, ITC, of the paper.) The baseline,
``shared=False``, is the same architecture with every module its own per modality: a second
copy of ``S`` for video frames and one ``U`` per modality (so it has *more* parameters).

Scaled down, and why: only the ITC objective and the module sharing are kept (no ITM, MLM or
captioning decoder: the question tested is what sharing buys the contrastive embeddings);
``SmallConvNet`` instead of the ViT dual vision encoder, ``clip.TextEncoder`` (bag of words)
instead of BERT, one residual-MLP universal layer instead of transformer layers, 4-frame
16-pixel videos and a few thousand generated pairs instead of 17 million.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import clip_loss
from ..models import SmallConvNet
from ..utils import eval_mode
from .base import Example, Method
from .clip import TextEncoder


class UniversalLayer(nn.Module):
    """A pre-norm residual MLP block ``h + W2 relu(W1 LayerNorm(h))`` of width ``dim``."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or 2 * dim
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim)
        )

    def forward(self, h: Tensor) -> Tensor:
        return h + self.net(h)


class TemporalModule(nn.Module):
    """Local temporal modelling: a width-2 convolution over adjacent frames' features, averaged
    over time and added to the mean frame feature (video-specific in both variants)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size=2)

    def forward(self, frames: Tensor) -> Tensor:  # (B, F, D) -> (B, D)
        if frames.shape[1] < 2:
            raise ValueError(f"videos need >= 2 frames, got {frames.shape[1]}")
        motion = F.relu(self.conv(frames.transpose(1, 2))).mean(dim=2)
        return frames.mean(dim=1) + motion


class MPLUG2(Method):
    """Image, video and text towers that share modules (``shared=True``) or not (the baseline).

    Args:
        image_encoder: the spatial encoder ``S`` (any module with ``out_dim``); with
            ``shared=True`` it also encodes every video frame, else video gets a deep copy.
        text_encoder: a module mapping ``(B, L)`` token ids to ``(B, out_dim)``.
        width: width of the universal layer(s).
        embed_dim: size of the contrastive space.
        shared: True: one spatial encoder for images and frames and one universal layer for all
            modalities (mPLUG-2). False: every modality has its own (fully separate towers).
        video_weight: weight of the video-text term of the loss.
        temperature: starting temperature, learned as ``log(1 / t)`` (clamped at 1 / t <= 100).

    The batch is ``(images, image_tokens, videos, video_tokens, video_ids)``: image-caption pairs
    and video-caption pairs (row i of each pairs up). ``video_ids`` name the pair each video
    row comes from: when the few video pairs are repeated to fill the batch, repeats of a pair
    are dropped so that no pair is its own negative. ``(images, image_tokens)`` alone trains
    image-text only.
    """

    input_kind = "image_text"  # optionally followed by (videos, video_tokens, video_ids)

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        width: int = 64,
        embed_dim: int = 64,
        shared: bool = True,
        video_weight: float = 1.0,
        temperature: float = 0.07,
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if video_weight < 0:
            raise ValueError(f"video_weight must be >= 0, got {video_weight}")
        self.shared, self.video_weight = shared, video_weight
        self.image_encoder = image_encoder
        self.frame_encoder = image_encoder if shared else copy.deepcopy(image_encoder)
        self.text_encoder = text_encoder
        self.temporal = TemporalModule(image_encoder.out_dim)
        self.adapters = nn.ModuleDict(
            {
                "image": nn.Linear(image_encoder.out_dim, width),
                "video": nn.Linear(image_encoder.out_dim, width),
                "text": nn.Linear(text_encoder.out_dim, width),
            }
        )
        if shared:  # mPLUG-2: vision shares its adapter (one dual vision encoder)
            self.adapters["video"] = self.adapters["image"]
        universal = UniversalLayer(width)
        self.universal = nn.ModuleDict(
            {m: universal if shared else UniversalLayer(width) for m in ("image", "video", "text")}
        )
        self.proj = nn.ModuleDict(
            {m: nn.Linear(width, embed_dim, bias=False) for m in ("image", "video", "text")}
        )
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    @property
    def temperature(self) -> Tensor:
        return self.log_scale.clamp(0, math.log(100)).neg().exp()

    def _head(self, m: str, h: Tensor) -> Tensor:
        return self.proj[m](self.universal[m](self.adapters[m](h)))

    def raw_image(self, x: Tensor) -> Tensor:
        return self._head("image", self.image_encoder(x))

    def raw_video(self, v: Tensor) -> Tensor:
        if v.ndim != 5:
            raise ValueError(f"videos must be (B, F, C, H, W), got {tuple(v.shape)}")
        b, f = v.shape[:2]
        frames = self.frame_encoder(v.flatten(0, 1)).view(b, f, -1)  # (B, F, D)
        return self._head("video", self.temporal(frames))

    def raw_text(self, tokens: Tensor) -> Tensor:
        return self._head("text", self.text_encoder(tokens))

    def loss(self, batch: tuple[Tensor, ...]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 5):
            raise TypeError(
                "MPLUG2 needs (images, tokens) or (images, tokens, videos, video_tokens, "
                "video_ids) batches"
            )
        t = self.temperature
        loss = clip_loss(self.raw_image(batch[0]), self.raw_text(batch[1]), t)
        if len(batch) == 5 and self.video_weight > 0:
            v, vt = first_occurrences(batch[4], batch[2], batch[3])
            loss = loss + self.video_weight * clip_loss(self.raw_video(v), self.raw_text(vt), t)
        return loss

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        self.log_scale.clamp_(0, math.log(100))

    def embed(self, x: Tensor) -> Tensor:
        """The downstream representation: the spatial encoder's output for images."""
        return self.image_encoder(x)

    @torch.no_grad()
    def encode(self, modality: str, x: Tensor, batch_size: int = 512) -> Tensor:
        """``(N, E)`` unit-length embeddings of ``"image"``, ``"video"`` or ``"text"`` inputs."""
        fn = {"image": self.raw_image, "video": self.raw_video, "text": self.raw_text}[modality]
        with eval_mode(self):
            return torch.cat([F.normalize(fn(x[i : i + batch_size]), dim=1)
                              for i in range(0, len(x), batch_size)])  # fmt: skip

    def similarity(self, modality: str, x: Tensor, tokens: Tensor) -> Tensor:
        """``(N, B)`` cosines between ``N`` inputs of ``modality`` and ``B`` captions."""
        return (self.encode(modality, x) @ self.encode("text", tokens).T).cpu()

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A small model, 8 toy image-caption pairs and 8 rows of 4 toy 2-frame videos (each
        twice) with their captions and ids, and the images for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=g)
        tokens = torch.randint(1, 20, (8, 6), generator=g)
        ids = torch.arange(8) % 4
        videos = torch.rand(4, 2, 3, 16, 16, generator=g)[ids]
        video_tokens = torch.randint(1, 20, (4, 6), generator=g)[ids]
        torch.manual_seed(seed)
        model = cls(SmallConvNet(widths=(8, 16)), TextEncoder(20, 16), width=16, embed_dim=16)
        return Example(model, (x, tokens, videos, video_tokens, ids), x)


def first_occurrences(ids: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The rows of ``tensors`` where ``ids`` occurs for the first time (batch order kept)."""
    ids = ids.flatten()
    order = torch.arange(len(ids), device=ids.device)
    same = ids[:, None] == ids[None, :]
    first = ~(same & (order[None, :] < order[:, None])).any(dim=1)
    return tuple(t[first] for t in tensors)


def n_parameters(module: nn.Module) -> int:
    """Distinct parameters (a shared module is counted once)."""
    return sum(p.numel() for p in module.parameters())


METHOD = MPLUG2
