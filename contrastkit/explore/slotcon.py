"""The SlotCon notebook's explorer: which pixels one prototype owns, checkpoint by checkpoint."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

__all__ = ["mask_panel", "draw"]


def mask_panel(seg: Tensor, prototype: int, colours: Tensor) -> Tensor:
    """The prototype picker: ``(n, H, W)`` prototype ids -> ``(n, 3, H, W)`` images.

    Pixels assigned to ``prototype`` keep their colour (``colours (K, 3)`` in [0, 1]); all the
    others are dimmed to grey, so one group's pixels stand out across a batch of scenes.

    Raises:
        ValueError: ``prototype`` outside ``[0, K)`` or ``seg`` not ``(n, H, W)``.
    """
    if seg.ndim != 3:
        raise ValueError(f"seg must be (n, H, W) prototype ids, got {tuple(seg.shape)}")
    if not 0 <= prototype < len(colours):
        raise ValueError(f"prototype must be in [0, {len(colours)}), got {prototype!r}")
    img = colours[seg]  # (n, H, W, 3)
    img = torch.where((seg == prototype)[..., None], img, 0.25 * img + 0.55)
    return img.permute(0, 3, 1, 2)


def draw(
    checkpoint: int,
    prototype: int,
    *,
    checkpoints: list[tuple[int, Tensor]],
    colours: Tensor,
    scale: int = 4,
) -> tuple[str, go.Figure]:
    """A line saying how many pixels the prototype owns, and the masks of 16 scenes (two rows
    of 8) at ``checkpoints[checkpoint] = (step, seg (16, H, W))``."""
    step, seg = checkpoints[checkpoint]
    img = mask_panel(seg, prototype, colours)
    img = img.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    top, bottom = torch.cat(list(img[:8]), 2), torch.cat(list(img[8:]), 2)
    z = (torch.cat([top, bottom], 1).permute(1, 2, 0) * 255).byte().numpy()
    fig = go.Figure(go.Image(z=z))
    fig.update_layout(height=260)
    owned = int((seg == prototype).sum())
    return f"step {step}: prototype {prototype} owns {owned} of {seg.numel()} pixels", fig
