"""The G-SimCLR notebook's explorer: false negatives per batch as the number of clusters K moves.

``draw(y, pseudo_by_k, batch_size, pool, floor, k)`` draws the mean false-negative rate of
random, guided (k-means pseudo-labels with ``K = k``) and oracle (true-class) batches, beside the
floor that class-balanced batches cannot go below.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.g_simclr import batch_fn_rates
from ..viz import PALETTE

__all__ = ["draw"]


def draw(
    y: Tensor,
    pseudo_by_k: dict[int, Tensor],
    batch_size: int,
    pool: int,
    floor: float,
    k: int,
    n_batches: int = 100,
    seed: int = 0,
) -> go.Figure:
    """Bars of the three samplers' mean false-negative rates at ``K = k``, and the floor.

    Args:
        y: ``(N,)`` true classes. pseudo_by_k: pseudo-labels ``(N,)`` for each K offered.
        batch_size, pool: ``B`` and the sampler's pool factor. floor: ``(B / C - 1) / (B - 1)``.
        k: the K to show. n_batches: batches averaged. seed: the batches' draws.
    """
    rates = [
        float(batch_fn_rates(y, p, batch_size, pool, n_batches=n_batches, seed=seed).mean())
        for p in (torch.arange(len(y)), pseudo_by_k[k], y)
    ]
    fig = go.Figure(go.Bar(
        x=["random", "guided", "oracle", "floor"], y=rates + [floor],
        marker_color=[PALETTE[0], PALETTE[1], PALETTE[2], "grey"],
    ))  # fmt: skip
    return fig.update_layout(
        height=380, yaxis_title="false-negative rate", yaxis_range=[0, 0.12],
        title=f"K={k}, B={batch_size}: guided FN rate {rates[1]:.4f} (random {rates[0]:.4f})",
    )  # fmt: skip
