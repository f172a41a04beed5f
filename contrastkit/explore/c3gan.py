"""The C3-GAN notebook's explorer: how the temperature of ``p(k|x)`` moves the cluster entropies."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.c3gan import cluster_entropies, soft_assignments

__all__ = ["assignments", "draw"]


def assignments(temperature: float, h: Tensor, centroids: Tensor) -> tuple[Tensor, float, float]:
    """Mean ``p(k|x)`` over the images ``(K,)`` and the conditional / marginal entropies at
    ``temperature`` for embeddings ``h (N, D)`` and ``centroids (K, D)``."""
    p = soft_assignments(h, centroids, temperature)
    cond, marg = cluster_entropies(torch.log(p.clamp_min(1e-12)))
    return p.mean(0), float(cond), float(marg)


def draw(temperature: float, *, h: Tensor, centroids: Tensor) -> tuple[str, go.Figure]:
    """A line with both entropies, and the bar chart of the mean assignment."""
    mean_p, cond, marg = assignments(temperature, h, centroids)
    fig = go.Figure(go.Bar(y=mean_p.tolist()))
    fig.update_layout(height=280, xaxis_title="cluster", yaxis_title="mean p(k|x)")
    k = len(mean_p)
    text = (
        f"conditional entropy {cond:.2f}, marginal entropy {marg:.2f} "
        f"(max log K = {math.log(k):.2f})"
    )
    return text, fig
