"""The P2P notebook's explorer: pseudo-masks as the background threshold moves."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.pixel_prototype import pseudo_labels
from ..metrics import dense_miou
from ..viz.labels import label_image

__all__ = ["masks_at", "draw"]


def masks_at(
    threshold: float, cams: dict[str, Tensor], labels: Tensor, target: Tensor
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Each model's pseudo-masks ``(N, H, W)`` at the background score ``threshold`` and their
    mIoU against ``target`` (0 background, ``c + 1`` part c; no matching).

    Args:
        cams: name -> raw class maps ``(N, C, H, W)``. labels: image-level ``(N, C)``.
    """
    out = {name: pseudo_labels(c, labels, threshold) for name, c in cams.items()}
    n_classes = labels.shape[1] + 1
    scores = {name: dense_miou(m, target, n_classes, match="none") for name, m in out.items()}
    return out, scores


def draw(
    threshold: float, *, cams: dict[str, Tensor], labels: Tensor, target: Tensor, n: int = 8
) -> tuple[str, go.Figure]:
    """A line with each model's mIoU, and rows of ``n`` scenes: the truth, then each model's
    pseudo-masks (white: background)."""
    out, scores = masks_at(threshold, cams, labels, target)
    rows = [label_image(target[:n] - 1)] + [label_image(out[name][:n] - 1) for name in cams]
    img = torch.cat([torch.cat(list(r), 2) for r in rows], 1)  # (3, rows * 24, n * 24)
    fig = go.Figure(go.Image(z=(img.permute(1, 2, 0) * 255).byte().numpy()))
    fig.update_layout(height=330)
    names = " · ".join(cams)
    text = f"rows: truth · {names} | mIoU " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    return text, fig
