"""Batched, per-sample random augmentations that run wherever the images are.

The usual contrastive pipeline augments one PIL image at a time in DataLoader workers and
starves the accelerator. Here a whole ``(N, C, H, W)`` batch is augmented with a handful of
tensor ops: every sample draws its own parameters (a crop box, jitter factors, a blur sigma),
and small per-sample matrices apply them, with no Python loop over images.

Every op of the SimCLR recipe is linear in the pixels, so each sample's whole chain collapses
to three small matrices (``benchmarks/README.md`` has the profile that motivated this):

* crop + flip (+ shift) and blur act on rows and columns separately: ``R @ x @ C^T`` with
  ``R`` (H, H) and ``C`` (W, W) per sample -- bilinear resampling is the "hat" weight
  ``max(0, 1 - |p - j|)`` (what ``grid_sample`` computes), the blur a banded matrix with the
  reflected border folded in, and blur-after-crop is just the product of the two;
* brightness / contrast / saturation / hue / grayscale are one per-sample ``(C, C)`` colour
  map plus an offset (the hue shift is a rotation about the grey axis in YIQ space, a cheap
  stand-in for an HSV round trip).

A rotation breaks the separability: then crop/flip/rotate is one ``affine_grid`` +
``grid_sample`` as before. The random draws happen in the same order as in the straightforward
op-by-op version, so a seed gives the same augmentations as it always did.

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
    # For `shapes`, whose object and background colours are random nuisances: a full hue turn
    # and frequent grey take colour away as a shortcut for matching views, and milder crops keep
    # the silhouette in the view. At 16 px, 200 SimCLR steps reach kNN ~0.55 with it against
    # ~0.32 with "simclr" (raw pixels ~0.34; seed 0, 9,000 images).
    "shapes": AugmentConfig(crop_scale=(0.4, 1.0), hue=0.5, grayscale=0.5),
    # The wang_liu digits recipe: +-1 px shift, intensity x U(0.8, 1.2), 15% pixel dropout, noise.
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


# -- geometry: crop, flip, shift (separable) or rotation (affine grid) -------------------------


def _geometric_params(n: int, cfg: AugmentConfig, dev: torch.device) -> tuple[Tensor, ...]:
    """Per-sample box scale ``(sx, sy)``, centre ``(tx, ty)`` in [-1, 1] coords, mirror, angle."""
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
    return sx, sy, tx, ty, mirror, angle


def _affine(x: Tensor, sx, sy, tx, ty, mirror, angle) -> Tensor:
    """Crop, mirror, rotate and shift as one affine resampling per sample (``grid_sample``)."""
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


def _resample_matrix(scale: Tensor, shift: Tensor, size: int, dtype: torch.dtype) -> Tensor:
    """(N, size, size) bilinear resampling along one axis: output i reads input at scale*u+shift.

    The same numbers as ``grid_sample(align_corners=False, padding_mode="zeros")`` for an
    axis-aligned ``theta``: the weight of input pixel j is the hat ``max(0, 1 - |p - j|)``.
    """
    pos = torch.arange(size, device=scale.device, dtype=dtype)
    u = (2 * pos + 1) / size - 1  # output pixel centres in [-1, 1]
    g = scale.to(dtype)[:, None] * u + shift.to(dtype)[:, None]  # (N, size) where each reads
    p = ((g + 1) * size - 1) / 2  # ... in input pixel units
    return (1 - (p[:, :, None] - pos).abs()).clamp_min(0)  # (N, out, in)


def _blur_matrix(sigma: Tensor, radius: int, size: int, dtype: torch.dtype) -> Tensor:
    """(N, size, size) Gaussian blur along one axis with reflected borders (like ``F.pad``)."""
    if radius >= size:
        raise ValueError(
            f"blur_sigma up to {radius / 2:g} px needs images wider than {radius} px, got {size}"
        )
    dev = sigma.device
    offsets = torch.arange(-radius, radius + 1, device=dev)
    kernel = torch.exp(-(offsets.to(dtype)[None] ** 2) / (2 * sigma.to(dtype)[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # (N, K)
    src = (torch.arange(size, device=dev)[:, None] + offsets).abs()  # (size, K), reflect left
    src = torch.where(src > size - 1, 2 * (size - 1) - src, src)  # ... and right
    return torch.einsum("nk,ikj->nij", kernel, F.one_hot(src, size).to(dtype))


def _separable(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``rows @ x @ cols^T`` per sample: x (N, C, H, W), rows (N, H, H), cols (N, W, W)."""
    n, c, h, w = x.shape
    x = torch.bmm(x.reshape(n, c * h, w), cols.transpose(1, 2))  # along width: (N, C*H, W)
    # along height, one (H, H) @ (H, W) per image-channel; an explicit expand + bmm is ~10x
    # faster on CPU than matmul's broadcasting of rows[:, None] (profiled, torch 2.14)
    rows = rows[:, None].expand(n, c, h, h).reshape(n * c, h, h)
    return torch.bmm(rows, x.view(n * c, h, w)).view(n, c, h, w)


# -- colour: jitter and grayscale as one per-sample affine colour map --------------------------


# RGB <-> YIQ: hue is the angle in the IQ plane, so a hue shift is a 2-D rotation there.
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _jitter_params(n: int, c: int, cfg: AugmentConfig, dev: torch.device) -> dict[str, Tensor]:
    """Per-sample on/off and factors of brightness, contrast, saturation, hue."""
    p = {"on": _coin(n, cfg.jitter, dev)}
    if cfg.brightness:
        p["brightness"] = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, dev)
    if cfg.contrast:
        p["contrast"] = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, dev)
    if c == 3:
        if cfg.saturation:
            p["saturation"] = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, dev)
        if cfg.hue:
            p["hue"] = _uniform(n, -cfg.hue, cfg.hue, dev) * 2 * math.pi
    return p


def _colour_map(
    jitter: dict[str, Tensor] | None, grey: Tensor | None, mean: Tensor | None, dtype
) -> tuple[Tensor, Tensor]:
    """Compose jitter then grayscale into ``out = m @ pixel + t``: m (N, C, C), t (N, C).

    Each step is linear, so it updates (m, t); ``mean`` (N, C) is the per-channel mean of the
    input image, which the contrast step needs (it pulls pixels towards the mean grey level).
    """
    n, c = mean.shape
    dev = mean.device
    eye = torch.eye(c, device=dev, dtype=dtype).expand(n, c, c)
    m, t = eye, torch.zeros(n, c, device=dev, dtype=dtype)
    luma = _LUMA.to(dev, dtype) if c == 3 else torch.full((c,), 1 / c, device=dev, dtype=dtype)
    to_grey = torch.ones(c, 1, device=dev, dtype=dtype) * luma  # (C, C): every channel <- luma
    if jitter is not None:
        if "brightness" in jitter:
            b = jitter["brightness"].to(dtype)
            m, t = m * b[:, None, None], t * b[:, None]
        if "contrast" in jitter:
            k = jitter["contrast"].to(dtype)
            level = ((m @ mean[:, :, None]).squeeze(2) + t) @ luma  # (N,) mean grey of `out`
            m, t = m * k[:, None, None], t * k[:, None] + ((1 - k) * level)[:, None]
        if "saturation" in jitter:
            s = jitter["saturation"].to(dtype)[:, None, None]
            mix = s * torch.eye(c, device=dev, dtype=dtype) + (1 - s) * to_grey  # (N, C, C)
            m, t = mix @ m, (mix @ t[:, :, None]).squeeze(2)
        if "hue" in jitter:
            a = jitter["hue"].to(dtype)
            rot = torch.zeros(n, 3, 3, device=dev, dtype=dtype)
            rot[:, 0, 0] = 1
            rot[:, 1, 1], rot[:, 1, 2] = a.cos(), -a.sin()
            rot[:, 2, 1], rot[:, 2, 2] = a.sin(), a.cos()
            hue = _YIQ2RGB.to(dev, dtype) @ rot @ _RGB2YIQ.to(dev, dtype)  # (N, 3, 3)
            m, t = hue @ m, (hue @ t[:, :, None]).squeeze(2)
        on = jitter["on"]
        m, t = torch.where(on[:, None, None], m, eye), torch.where(on[:, None], t, 0.0)
    if grey is not None:
        m = torch.where(grey[:, None, None], to_grey @ m, m)
        t = torch.where(grey[:, None], t @ to_grey.T, t)
    return m, t


def _apply_colour(x: Tensor, m: Tensor, t: Tensor) -> Tensor:
    n, c, h, w = x.shape
    if c == 1:
        return x * m[:, :, :, None] + t[:, :, None, None]
    return torch.baddbmm(t[:, :, None], m, x.reshape(n, c, h * w)).view(n, c, h, w)


# -- the rest: per-pixel ops -------------------------------------------------------------------


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


def _augment(x: Tensor, cfg: AugmentConfig) -> Tensor:
    n, c, h, w = x.shape
    dev, dtype = x.device, x.dtype
    # 1. draw every random parameter, in the order of the op-by-op pipeline (seeds keep
    #    giving the same augmentations): geometry, jitter, grayscale, blur.
    rows = cols = None  # (N, H, H), (N, W, W): the separable part, out = rows @ x @ cols^T
    if cfg.crop_scale is not None or cfg.flip or cfg.rotate or cfg.translate:
        sx, sy, tx, ty, mirror, angle = _geometric_params(n, cfg, dev)
        if cfg.rotate:  # not separable: resample now
            x = _affine(x, sx, sy, tx, ty, mirror, angle)
        else:
            rows = _resample_matrix(sy, ty, h, dtype)
            cols = _resample_matrix(sx * mirror, tx, w, dtype)
    jitter = _jitter_params(n, c, cfg, dev) if cfg.jitter else None
    grey = _coin(n, cfg.grayscale, dev) if cfg.grayscale and c == 3 else None
    if cfg.blur:
        sigma = _uniform(n, *cfg.blur_sigma, dev)
        blurred = _coin(n, cfg.blur, dev)[:, None, None]

    # 2. the colour map needs the mean colour of the cropped image (for contrast); it equals
    #    x weighted by the column sums of the resampling matrices, so no resampling is needed.
    colour = None
    if jitter is not None or grey is not None:
        if jitter is not None and "contrast" in jitter:
            if rows is None:
                mean = x.mean((2, 3))
            else:
                col_w = cols.sum(1)[:, :, None]  # (N, W, 1): weight of each input column
                per_row = torch.bmm(x.reshape(n, c * h, w), col_w).view(n, c, h)
                mean = (per_row * rows.sum(1)[:, None]).sum(2) / (h * w)  # (N, C)
        else:
            mean = x.new_zeros(n, c)  # only its shape is used
        colour = _colour_map(jitter, grey, mean, dtype)

    # 3. blur commutes with the colour map (its rows sum to 1, the same for every channel),
    #    so blur-after-crop folds into the separable matrices.
    if cfg.blur:
        radius = max(1, int(math.ceil(2 * cfg.blur_sigma[1])))
        bh = _blur_matrix(sigma, radius, h, dtype)
        bw = bh if w == h else _blur_matrix(sigma, radius, w, dtype)
        eye_h = torch.eye(h, device=dev, dtype=dtype)
        bh = torch.where(blurred, bh, eye_h)
        bw = torch.where(blurred, bw, torch.eye(w, device=dev, dtype=dtype))
        rows = bh if rows is None else bh @ rows
        cols = bw if cols is None else bw @ cols

    # 4. apply: two small matmuls per sample for space, one for colour.
    if rows is not None:
        x = _separable(x, rows, cols)
    if colour is not None:
        x = _apply_colour(x, *colour)
    if cfg.dropout:
        x = x * (torch.rand_like(x[:, :1]) >= cfg.dropout)
    if cfg.noise:
        x = x + cfg.noise * torch.randn_like(x)
    if cfg.cutout:
        x = _cutout(x, cfg.cutout, cfg.cutout_size)
    return x.clamp(0.0, 1.0) if cfg.clamp else x


def augment(x: Tensor, config: AugmentConfig | str | None = None, **overrides) -> Tensor:
    """One random augmentation of every image in a batch, each with its own parameters.

    Args:
        x: ``(N, C, H, W)`` floating images in ``[0, 1]`` on any device.
        config: an :class:`AugmentConfig`, a preset name (``"simclr"``, ``"strong"``, ``"weak"``,
            ``"digits"``, ``"shapes"``, ``"none"``) or None for ``"simclr"``.
        **overrides: fields of the config to change, e.g. ``blur=0.5``.

    Returns:
        ``(N, C, H, W)`` on ``x``'s device, clipped to ``[0, 1]`` unless ``clamp=False``.
        Computed in ``x``'s dtype even under autocast (bf16 would round pixels to 1/256).

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
    kind = x.device.type
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        with torch.autocast(kind, enabled=False):
            return _augment(x, cfg)
    return _augment(x, cfg)


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
