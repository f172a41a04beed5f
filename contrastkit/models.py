"""Small encoders and heads: an MLP, a small ConvNet, a CIFAR-stem ResNet-18, projectors.

Every encoder has an ``out_dim`` attribute so heads can be sized without a dummy forward.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = [
    "MLP",
    "SmallConvNet",
    "DenseConvNet",
    "resnet18",
    "projection_head",
    "build_encoder",
]


class MLP(nn.Module):
    """Fully connected encoder: ``Linear -> BatchNorm -> ReLU`` blocks, then a linear output.

    Args:
        in_dim: input features (images are flattened).
        hidden: widths of the hidden layers.
        out_dim: output features.
        out_bn: end with ``BatchNorm1d(affine=False)``. Card 11's digits pilot needs this for
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
