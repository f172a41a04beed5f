"""Label maps as pictures: one colour per part / segment / prototype id.

The dense notebooks (OBoW's part scenes, SlotCon's prototype masks, P2P's pseudo-masks) all show
an ``(n, H, W)`` map of integer ids as a grid of small RGB images; this module is that renderer
and its palette, written once.

    img = label_image(ids)                      (n, 3, H * 4, W * 4) in [0, 1]; -1 is white
    viz.image_grid(img, n=8, ncol=8)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PART_PALETTE", "label_image"]

#: Twelve well-separated colours (RGB in [0, 1]), one per part type of ``make_part_scenes``.
PART_PALETTE = torch.tensor(
    [[0.90, 0.10, 0.10], [0.10, 0.60, 0.10], [0.10, 0.30, 0.90], [0.95, 0.60, 0.00],
     [0.60, 0.10, 0.70], [0.00, 0.70, 0.70], [0.90, 0.40, 0.70], [0.50, 0.35, 0.10],
     [0.40, 0.70, 0.20], [0.20, 0.20, 0.40], [0.95, 0.90, 0.10], [0.50, 0.50, 0.50]]
)  # fmt: skip


def label_image(
    labels: Tensor,
    palette: Tensor | None = None,
    scale: int = 4,
    window: tuple[Tensor, Tensor] | None = None,
    window_size: int = 0,
) -> Tensor:
    """``(n, H, W)`` integer ids -> ``(n, 3, H * scale, W * scale)`` RGB images in ``[0, 1]``.

    Args:
        labels: ids in ``[0, len(palette))``; negative ids (empty cells, background) are white.
        palette: ``(K, 3)`` colours; default :data:`PART_PALETTE`.
        scale: each cell becomes a ``scale x scale`` block.
        window: optional top-left corners ``(i, j)``, each ``(n,)``, of a ``window_size`` square
            per image (e.g. the crop a student sees); cells outside it are dimmed.

    Raises:
        ValueError: ``labels`` not ``(n, H, W)``, an id beyond the palette, or a window without
            a positive ``window_size``.
    """
    palette = PART_PALETTE if palette is None else palette.float()
    labels = torch.as_tensor(labels).long().cpu()
    if labels.ndim != 3:
        raise ValueError(f"labels must be (n, H, W) ids, got shape {tuple(labels.shape)}")
    if labels.numel() and int(labels.max()) >= len(palette):
        raise ValueError(f"labels go up to {int(labels.max())}, the palette has {len(palette)}")
    n, h, w = labels.shape
    img = torch.ones(n, h, w, 3)
    img[labels >= 0] = palette[labels[labels >= 0]]
    if window is not None:
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1 with a window, got {window_size!r}")
        i, j = (torch.as_tensor(c).long().cpu()[:, None] for c in window)  # (n, 1)
        rows = (torch.arange(h) >= i) & (torch.arange(h) < i + window_size)  # (n, H)
        cols = (torch.arange(w) >= j) & (torch.arange(w) < j + window_size)  # (n, W)
        inside = rows[:, :, None] & cols[:, None, :]
        img = torch.where(inside[..., None], img, 0.35 * img + 0.1)
    img = img.permute(0, 3, 1, 2)
    return img.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
