"""Batched, per-sample random augmentations that run wherever the images are.

The usual contrastive pipeline augments one PIL image at a time in DataLoader workers and
starves the accelerator. Here a whole ``(N, C, H, W)`` batch is augmented with a handful of
tensor ops: every sample draws its own parameters (a crop box, jitter factors, a blur sigma),
and masks and index arithmetic apply them, with no Python loop over images.

* crop + flip are one affine ``grid_sample`` (the crop box and the mirror are one matrix);
* brightness / contrast / saturation / hue are per-sample linear colour maps (the hue shift is
  a rotation about the grey axis in YIQ space, a cheap stand-in for an HSV round trip);
* blur is a depthwise convolution with one Gaussian kernel per sample.

``views(x, n=2, config)`` returns ``n`` independently augmented copies of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["AugmentConfig", "PRESETS", "augment", "views"]


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths and probabilities of each augmentation (0 or None switches one off).

    Defaults follow SimCLR's CIFAR recipe, scaled for small images.
    """

    crop_scale: tuple[float, float] | None = (0.2, 1.0)  # area fraction of the crop box
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the box
    flip: float = 0.5  # probability of a horizontal mirror
    rotate: float = 0.0  # max rotation in degrees (uniform in [-rotate, rotate])
    translate: float = 0.0  # max shift as a fraction of the image side (for tiny digits)
    jitter: float = 0.8  # probability of colour jitter
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # max hue rotation as a fraction of a full turn
    grayscale: float = 0.2  # probability of converting to grey
    blur: float = 0.0  # probability of Gaussian blur
    blur_sigma: tuple[float, float] = (0.1, 1.0)  # in pixels
    noise: float = 0.0  # std of additive Gaussian noise
    cutout: float = 0.0  # probability of erasing one rectangle
    cutout_size: float = 0.3  # side of the rectangle as a fraction of the image side
    dropout: float = 0.0  # fraction of pixels zeroed independently (digits-style)
    clamp: bool = True  # clip to [0, 1]; switch off for standardised (not [0, 1]) inputs


PRESETS: dict[str, AugmentConfig] = {
    "simclr": AugmentConfig(),
    "strong": AugmentConfig(crop_scale=(0.08, 1.0), blur=0.5, jitter=0.8, grayscale=0.2),
    "weak": AugmentConfig(
        crop_scale=(0.6, 1.0),
        jitter=0.5,
        brightness=0.2,
        contrast=0.2,
        saturation=0.2,
        hue=0.02,
        grayscale=0.0,
    ),
    # Card 11's digits recipe: +-1 px shift, intensity x U(0.8, 1.2), 15% pixel dropout, noise.
    "digits": AugmentConfig(
        crop_scale=None,
        flip=0.0,
        translate=1 / 8,
        jitter=1.0,
        brightness=0.2,
        contrast=0.0,
        saturation=0.0,
        hue=0.0,
        grayscale=0.0,
        dropout=0.15,
        noise=0.1,
        clamp=False,
    ),
    "none": AugmentConfig(crop_scale=None, flip=0.0, jitter=0.0, grayscale=0.0),
}


def _resolve(config: AugmentConfig | str | None, overrides: dict) -> AugmentConfig:
    if config is None:
        config = PRESETS["simclr"]
    elif isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown augmentation preset {config!r}; choose from {list(PRESETS)}")
        config = PRESETS[config]
    elif not isinstance(config, AugmentConfig):
        raise TypeError(f"config must be an AugmentConfig, a preset name or None, got {config!r}")
    return replace(config, **overrides) if overrides else config


def _uniform(n: int, low: float, high: float, device: torch.device) -> Tensor:
    return torch.rand(n, device=device) * (high - low) + low


def _coin(n: int, p: float, device: torch.device) -> Tensor:
    """(n,) bool: True with probability p, per sample."""
    return torch.rand(n, device=device) < p


def _geometric(x: Tensor, cfg: AugmentConfig) -> Tensor:
    """Random resized crop, flip, rotation and shift as one affine resampling per sample."""
    n, dev = x.shape[0], x.device
    sx = torch.ones(n, device=dev)
    sy = torch.ones(n, device=dev)
    tx = torch.zeros(n, device=dev)
    ty = torch.zeros(n, device=dev)
    if cfg.crop_scale is not None:
        area = _uniform(n, *cfg.crop_scale, dev)
        log_r = _uniform(n, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), dev)
        ratio = log_r.exp()
        # box side lengths as fractions of the image, clipped to fit (torchvision falls back
        # to a centre crop after 10 tries; clipping is the batched equivalent)
        sx = (area * ratio).sqrt().clamp(max=1.0)
        sy = (area / ratio).sqrt().clamp(max=1.0)
        tx = (torch.rand(n, device=dev) * 2 - 1) * (1 - sx)  # box centre, in [-1, 1] coords
        ty = (torch.rand(n, device=dev) * 2 - 1) * (1 - sy)
    if cfg.translate:
        tx = tx + _uniform(n, -2 * cfg.translate, 2 * cfg.translate, dev)
        ty = ty + _uniform(n, -2 * cfg.translate, 2 * cfg.translate, dev)
    mirror = torch.where(_coin(n, cfg.flip, dev), -1.0, 1.0)
    angle = _uniform(n, -cfg.rotate, cfg.rotate, dev) * (math.pi / 180)
    cos, sin = angle.cos(), angle.sin()
    # theta maps output coords to input coords: scale (crop), mirror, rotate, then shift
    theta = torch.stack(
        [
            torch.stack([sx * mirror * cos, -sy * sin, tx], dim=1),
            torch.stack([sx * mirror * sin, sy * cos, ty], dim=1),
        ],
        dim=1,
    )  # (N, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# RGB <-> YIQ: hue is the angle in the IQ plane, so a hue shift is a 2-D rotation there.
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _colour(x: Tensor, cfg: AugmentConfig) -> Tensor:
    """Per-sample brightness, contrast, saturation and hue on RGB batches."""
    n, dev, dtype = x.shape[0], x.device, x.dtype
    on = _coin(n, cfg.jitter, dev)[:, None, None, None]
    out = x
    if cfg.brightness:
        b = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, dev)[:, None, None, None]
        out = out * b
    if x.shape[1] == 3:
        luma = _LUMA.to(dev, dtype)[None, :, None, None]
        if cfg.contrast:
            c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, dev)[:, None, None, None]
            mean = (out * luma).sum(1, keepdim=True).mean((2, 3), keepdim=True)
            out = (out - mean) * c + mean
        if cfg.saturation:
            s = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, dev)[:, None, None, None]
            grey = (out * luma).sum(1, keepdim=True)
            out = (out - grey) * s + grey
        if cfg.hue:
            a = _uniform(n, -cfg.hue, cfg.hue, dev) * 2 * math.pi
            rot = torch.zeros(n, 3, 3, device=dev)
            rot[:, 0, 0] = 1
            rot[:, 1, 1], rot[:, 1, 2] = a.cos(), -a.sin()
            rot[:, 2, 1], rot[:, 2, 2] = a.sin(), a.cos()
            m = _YIQ2RGB.to(dev) @ rot @ _RGB2YIQ.to(dev)  # (N, 3, 3)
            out = torch.einsum("nij,njhw->nihw", m.to(dtype), out)
    elif cfg.contrast:
        c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, dev)[:, None, None, None]
        mean = out.mean((1, 2, 3), keepdim=True)
        out = (out - mean) * c + mean
    return torch.where(on, out, x)


def _grayscale(x: Tensor, p: float) -> Tensor:
    if x.shape[1] != 3:
        return x
    grey = (x * _LUMA.to(x.device, x.dtype)[None, :, None, None]).sum(1, keepdim=True)
    return torch.where(_coin(x.shape[0], p, x.device)[:, None, None, None], grey.expand_as(x), x)


def _blur(x: Tensor, p: float, sigma_range: tuple[float, float]) -> Tensor:
    """Gaussian blur with a per-sample sigma: one depthwise separable convolution."""
    n, c, h, w = x.shape
    dev = x.device
    sigma = _uniform(n, *sigma_range, dev)
    radius = max(1, int(math.ceil(2 * sigma_range[1])))
    offsets = torch.arange(-radius, radius + 1, device=dev, dtype=x.dtype)
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))  # (N, K)
    kernel = kernel / kernel.sum(1, keepdim=True)
    k = kernel.repeat_interleave(c, dim=0)  # (N*C, K), one kernel per image-channel
    flat = x.reshape(1, n * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, k[:, None, None, :], groups=n * c)  # along width
    flat = F.conv2d(flat, k[:, None, :, None], groups=n * c)  # along height
    out = flat.reshape(n, c, h, w)
    return torch.where(_coin(n, p, dev)[:, None, None, None], out, x)


def _cutout(x: Tensor, p: float, size: float) -> Tensor:
    n, _, h, w = x.shape
    dev = x.device
    cy = torch.rand(n, device=dev) * h
    cx = torch.rand(n, device=dev) * w
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    half_h, half_w = size * h / 2, size * w / 2
    box = ((ys - cy[:, None, None]).abs() < half_h) & ((xs - cx[:, None, None]).abs() < half_w)
    box = box & _coin(n, p, dev)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)


def augment(x: Tensor, config: AugmentConfig | str | None = None, **overrides) -> Tensor:
    """One random augmentation of every image in a batch, each with its own parameters.

    Args:
        x: ``(N, C, H, W)`` floating images in ``[0, 1]`` on any device.
        config: an :class:`AugmentConfig`, a preset name (``"simclr"``, ``"strong"``, ``"weak"``,
            ``"digits"``, ``"none"``) or None for ``"simclr"``.
        **overrides: fields of the config to change, e.g. ``blur=0.5``.

    Returns:
        ``(N, C, H, W)`` on ``x``'s device, clipped to ``[0, 1]`` unless ``clamp=False``.

    Raises:
        ValueError: if ``x`` is not a floating 4-D batch.

    Example:
        >>> x = torch.rand(8, 3, 32, 32)
        >>> augment(x, "simclr", blur=0.5).shape
        torch.Size([8, 3, 32, 32])
    """
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a floating (N, C, H, W) tensor, got {shape}")
    cfg = _resolve(config, overrides)
    if cfg.crop_scale is not None or cfg.flip or cfg.rotate or cfg.translate:
        x = _geometric(x, cfg)
    if cfg.jitter:
        x = _colour(x, cfg)
    if cfg.grayscale:
        x = _grayscale(x, cfg.grayscale)
    if cfg.blur:
        x = _blur(x, cfg.blur, cfg.blur_sigma)
    if cfg.dropout:
        x = x * (torch.rand_like(x[:, :1]) >= cfg.dropout)
    if cfg.noise:
        x = x + cfg.noise * torch.randn_like(x)
    if cfg.cutout:
        x = _cutout(x, cfg.cutout, cfg.cutout_size)
    return x.clamp(0.0, 1.0) if cfg.clamp else x


def views(
    x: Tensor, n: int = 2, config: AugmentConfig | str | None = None, **overrides
) -> list[Tensor]:
    """``n`` independently augmented views of a batch (see :func:`augment`).

    Example:
        >>> v1, v2 = views(torch.rand(8, 3, 32, 32), n=2)
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    cfg = _resolve(config, overrides)
    return [augment(x, cfg) for _ in range(n)]
