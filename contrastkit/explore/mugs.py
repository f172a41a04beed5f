"""The Mugs notebook's explorer: the group loss's targets as the teacher temperature and the
centring change."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.mugs import group_targets

__all__ = ["targets", "draw"]


def targets(
    temperature: float, centred: bool, scores: Tensor, center: Tensor
) -> tuple[Tensor, Tensor, float]:
    """Sample 0's target ``(K,)``, the batch's mean target ``(K,)`` and its perplexity (how
    many prototypes are in use) for teacher scores ``(N, K)`` and the centre ``(K,)``."""
    q = group_targets(scores, center if centred else torch.zeros_like(center), temperature)
    used = q.mean(0)
    return q[0], used, float(torch.exp(-(used * used.clamp_min(1e-12).log()).sum()))


def draw(
    temperature: float, centred: bool, *, scores: Tensor, center: Tensor
) -> tuple[str, go.Figure]:
    """A line with the perplexity, and sample 0's target beside the batch mean."""
    one, used, ppl = targets(temperature, centred, scores, center)
    fig = go.Figure(
        [
            go.Bar(y=one.tolist(), name="sample 0"),
            go.Bar(y=used.tolist(), name="batch mean", xaxis="x2", yaxis="y2"),
        ]
    )
    fig.update_layout(
        height=300,
        xaxis={"domain": [0, 0.45], "title": "prototype"},
        xaxis2={"domain": [0.55, 1], "title": "prototype"},
        yaxis2={"anchor": "x2"},
    )
    return f"prototypes in use (perplexity of the batch mean): {ppl:.1f} of {len(used)}", fig
