"""The ``simclr`` notebook: what SimCLR's augmentations do to an image, as an explorer.

:func:`augment_preview` makes one view of each image with a chosen crop scale and colour
jitter; :func:`draw` shows images above their views for ``viz.explorer``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..augment import augment

__all__ = ["augment_preview", "draw"]


def augment_preview(x: Tensor, min_crop_area: float, colour_jitter: float, seed: int = 0) -> Tensor:
    """One SimCLR view of each image of ``x`` with crops of at least ``min_crop_area`` of the
    image and brightness / contrast / saturation jitter of strength ``colour_jitter``.

    The same ``seed`` draws the same random parameters, so moving one slider changes only what
    that slider controls; the global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return augment(
            x, "simclr", crop_scale=(min_crop_area, 1.0), brightness=colour_jitter,
            contrast=colour_jitter, saturation=colour_jitter,
            jitter=1.0 if colour_jitter else 0.0,
        )  # fmt: skip


def draw(min_crop_area: float, colour_jitter: float, images: Tensor, seed: int = 0):
    """The images (top row) above one view of each (bottom row), as an image grid figure."""
    from ..viz import image_grid

    views = augment_preview(images, min_crop_area, colour_jitter, seed)
    n = len(images)
    return image_grid(
        torch.cat([images, views]), n=2 * n, ncol=n, title="top: images · bottom: one view"
    )
