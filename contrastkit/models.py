"""Small encoders and heads: an MLP, a small ConvNet, a CIFAR-stem ResNet-18, projectors, and
a tiny ViT with the light decoder masked autoencoders put on it (``TinyViT``, ``MAEDecoder``).

Every encoder has an ``out_dim`` attribute so heads can be sized without a dummy forward.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .blocks import patchify, sincos_positions

__all__ = [
    "MLP",
    "SmallConvNet",
    "DenseConvNet",
    "resnet18",
    "projection_head",
    "build_encoder",
    "TinyViT",
    "MAEDecoder",
]


class MLP(nn.Module):
    """Fully connected encoder: ``Linear -> BatchNorm -> ReLU`` blocks, then a linear output.

    Args:
        in_dim: input features (images are flattened).
        hidden: widths of the hidden layers.
        out_dim: output features.
        out_bn: end with ``BatchNorm1d(affine=False)``. The wang_liu digits run needs this for
            the hard losses: without it they stay collapsed.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (256, 256),
        out_dim: int = 32,
        out_bn: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            d = h
        layers.append(nn.Linear(d, out_dim))
        if out_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SmallConvNet(nn.Module):
    """A VGG-style ConvNet for small images: ``[conv3x3-BN-ReLU, maxpool] x len(widths)``.

    The last stage has no pooling; global average pooling gives a ``widths[-1]`` vector.

    Args:
        in_channels: 3 for colour, 1 for grey.
        widths: channels per stage; the default 16-32-64-128 trains at ~1,500 img/s at 32 px
            on 2 CPU cores.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DenseConvNet(nn.Module):
    """A fully-convolutional encoder that keeps the feature map (for dense methods).

    ``[conv-BN-ReLU] x len(widths)``, stride 1 and "same" padding, no pooling:
    ``(N, C, H, W) -> (N, widths[-1], H, W)``, one feature vector per pixel. Dense objectives
    (SlotCon's pixel groups, pixel-to-prototype contrast, CAMs) need that map; pool it
    (``.mean((2, 3))``) for an image-level embedding.

    Args:
        in_channels: input channels. widths: channels per layer.
        kernel_size: odd, one for all layers or one per layer; each layer widens the receptive
            field by ``kernel_size - 1`` pixels (1: a per-pixel MLP, no context).
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 32, 64),
        kernel_size: int | Sequence[int] = 3,
    ) -> None:
        super().__init__()
        sizes = [kernel_size] * len(widths) if isinstance(kernel_size, int) else list(kernel_size)
        if len(sizes) != len(widths) or any(k < 1 or k % 2 == 0 for k in sizes):
            raise ValueError(
                f"kernel_size must be a positive odd int or one per layer, got {kernel_size!r}"
            )
        layers: list[nn.Module] = []
        c = in_channels
        for w, k in zip(widths, sizes):
            layers += [
                nn.Conv2d(c, w, k, padding=k // 2, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            c = w
        self.net = nn.Sequential(*layers)
        self.out_dim = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def resnet18(in_channels: int = 3) -> nn.Module:
    """ResNet-18 with the CIFAR stem (3x3 stride-1 first conv, no max-pool), 512-d output."""
    from torchvision.models import resnet18 as tv_resnet18

    net = tv_resnet18(weights=None)  # never downloads: weights=None
    net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    net.out_dim = 512
    return net


def projection_head(
    in_dim: int, hidden: int | None = None, out_dim: int = 64, bn: bool = True
) -> nn.Sequential:
    """SimCLR's projector: ``Linear -> (BN) -> ReLU -> Linear`` (hidden defaults to in_dim)."""
    hidden = hidden or in_dim
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden)]
    if bn:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)]
    return nn.Sequential(*layers)


def build_encoder(name: str, in_channels: int = 3, image_size: int = 32, **kwargs) -> nn.Module:
    """An encoder by name: ``"smallconv"``, ``"resnet18"`` or ``"mlp"`` (flattened pixels).

    Raises:
        ValueError: for an unknown name.
    """
    if name == "smallconv":
        return SmallConvNet(in_channels, **kwargs)
    if name == "resnet18":
        return resnet18(in_channels)
    if name == "mlp":
        return MLP(in_channels * image_size * image_size, **kwargs)
    raise ValueError(f"unknown encoder {name!r}; choose 'smallconv', 'resnet18' or 'mlp'")


# ---------------------------------------------------------------------------------------------
# A tiny Vision Transformer and the masked autoencoder's decoder (MAE and its descendants)
# ---------------------------------------------------------------------------------------------


def _transformer(dim: int, depth: int, heads: int, mlp_ratio: int) -> nn.TransformerEncoder:
    """``depth`` pre-norm Transformer blocks (attention + GELU MLP), no dropout: ViT's block."""
    layer = nn.TransformerEncoderLayer(
        dim,
        heads,
        mlp_ratio * dim,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)


class TinyViT(nn.Module):
    """A small Vision Transformer over square images: patches -> tokens -> pooled vector.

    ``patchify`` cuts the image into ``(S/p)^2`` patches; each becomes a token
    ``Linear(patch pixels) + position`` (fixed 2-D sine-cosine codes, as in MAE); pre-norm
    Transformer blocks and a final LayerNorm follow. ``forward`` returns the mean output token
    ``(N, dim)`` (global average pooling; no class token), ``tokens`` the tokens themselves.
    ``tokens(x, keep)`` encodes only the patches listed in ``keep``: that is all a masked
    autoencoder's encoder ever sees, and why its pre-training is cheap.

    Args:
        image_size, patch: square images of ``image_size`` pixels cut into ``patch`` squares.
        channels: image channels. dim, depth, heads: the Transformer's width, blocks and heads.
        mlp_ratio: hidden width of each block's MLP, in multiples of ``dim``.

    Raises:
        ValueError: ``patch`` not dividing ``image_size`` or ``dim`` not a multiple of 4 and
            of ``heads`` (named).

    Example:
        >>> vit = TinyViT(image_size=16, patch=4, dim=64, depth=3)
        >>> vit(torch.rand(8, 3, 16, 16)).shape        # torch.Size([8, 64])
    """

    def __init__(
        self,
        image_size: int = 16,
        patch: int = 4,
        channels: int = 3,
        dim: int = 64,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: int = 2,
    ) -> None:
        super().__init__()
        if patch < 1 or image_size % patch:
            raise ValueError(f"patch must divide image_size, got patch={patch}, {image_size}")
        if dim % 4 or dim % heads:
            raise ValueError(f"dim must be a multiple of 4 and of heads={heads}, got {dim}")
        self.image_size, self.patch, self.channels = image_size, patch, channels
        self.side = image_size // patch
        self.n_patches = self.side**2
        self.patch_dim = channels * patch * patch
        self.embed_patch = nn.Linear(self.patch_dim, dim)
        self.register_buffer("pos", sincos_positions(self.side, dim)[None])  # (1, P, dim)
        self.blocks = _transformer(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.dim = self.out_dim = dim

    def patches(self, x: Tensor) -> Tensor:
        """``(N, C, S, S)`` images -> ``(N, P, C p p)`` patches (the reconstruction target)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise ValueError(
                f"x must be (N, {self.channels}, {self.image_size}, {self.image_size}), "
                f"got shape {tuple(x.shape)}"
            )
        return patchify(x, self.patch)

    def tokens(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Encoded tokens ``(N, K, dim)``: all ``P`` patches, or only those in ``keep (N, K)``."""
        t = self.embed_patch(self.patches(x)) + self.pos  # (N, P, dim)
        if keep is not None:
            t = t.gather(1, keep[..., None].expand(-1, -1, t.shape[-1]))  # (N, K, dim)
        return self.norm(self.blocks(t))

    def forward(self, x: Tensor) -> Tensor:
        return self.tokens(x).mean(1)  # (N, dim)


class MAEDecoder(nn.Module):
    """MAE's light decoder: visible tokens + mask tokens at their places -> every patch's pixels.

    The encoder's visible tokens ``(N, K, in_dim)`` are mapped to the decoder's width and put
    back at their positions ``keep``; every hidden position gets the same learnt *mask token*.
    All ``P`` tokens get their (fixed) position codes, pass through ``depth`` Transformer blocks
    and a linear head predicts each patch's ``C p p`` pixels. Only the decoder sees mask tokens,
    so it, not the encoder, does the in-filling; it is thrown away after pre-training.

    Args:
        n_patches: ``P``, a square number (the encoder's grid). in_dim: the encoder's width.
        patch_dim: pixels per patch, ``C p p``. dim, depth, heads, mlp_ratio: the decoder's
            Transformer (narrower and shallower than the encoder, as in the paper).

    Example:
        >>> vit, dec = TinyViT(), MAEDecoder(16, 64, 48, dim=32)
        >>> keep, mask = random_masking(8, 16, 0.75)
        >>> dec(vit.tokens(torch.rand(8, 3, 16, 16), keep), keep).shape   # (8, 16, 48)
    """

    def __init__(
        self,
        n_patches: int,
        in_dim: int,
        patch_dim: int,
        dim: int = 64,
        depth: int = 1,
        heads: int = 4,
        mlp_ratio: int = 2,
    ) -> None:
        super().__init__()
        side = int(round(n_patches**0.5))
        if side * side != n_patches:
            raise ValueError(f"n_patches must be a square number, got {n_patches}")
        if dim % 4 or dim % heads:
            raise ValueError(f"dim must be a multiple of 4 and of heads={heads}, got {dim}")
        self.n_patches = n_patches
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.register_buffer("pos", sincos_positions(side, dim)[None])  # (1, P, dim)
        self.blocks = _transformer(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch_dim)

    def forward(self, h: Tensor, keep: Tensor) -> Tensor:
        """``h (N, K, in_dim)`` visible tokens at ``keep (N, K)`` -> ``(N, P, patch_dim)``."""
        if h.ndim != 3 or keep.shape != h.shape[:2]:
            raise ValueError(
                f"h must be (N, K, D) and keep (N, K), got {tuple(h.shape)} and {tuple(keep.shape)}"
            )
        n, _, _ = h.shape
        v = self.embed(h)  # (N, K, dim)
        full = self.mask_token.expand(n, self.n_patches, -1).to(v.dtype)  # (N, P, dim)
        full = full.scatter(1, keep[..., None].expand(-1, -1, v.shape[-1]), v)
        return self.head(self.norm(self.blocks(full + self.pos)))
