"""The GPC notebook's explorer: the number of classes split/merge finds as the prior changes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from torch import Tensor

from ..mixtures import estimate_k

__all__ = ["draw"]


def draw(
    prior_scale: float, *, x: Tensor, y: Tensor, xy: np.ndarray, k_init: int = 20, seed: int = 0
) -> go.Figure:
    """Points ``xy (N, 2)`` (a projection of ``x``) coloured by the clusters that split/merge
    settles on from ``k_init`` components with the prior's variance scaled by ``prior_scale``
    (``y``: labels, -1 unlabelled)."""
    k_hat, per_round, labels = estimate_k(x, y, k_init, prior_scale, seed=seed)
    fig = go.Figure(
        go.Scatter(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers",
            marker={"size": 4, "color": labels.cpu().numpy(), "colorscale": "Turbo"},
        )
    )
    fig.update_layout(
        title=f"prior scale {prior_scale}: K = {k_hat} (rounds: {per_round})", height=420
    )
    return fig
