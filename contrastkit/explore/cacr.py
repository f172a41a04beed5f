"""The CACR notebook's explorer: the two conditional weightings on a circle of points.

A query on the unit circle, three positives and eight negatives at fixed angles; ``draw(tau_pos,
tau_neg)`` sizes each point by its weight, ``pi+`` (attraction, the farthest positive weighs
most) and ``pi-`` (repulsion, the closest negative weighs most), with the entropies in the title.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.cacr import attraction_weights, entropy, repulsion_weights

__all__ = ["ANCHOR", "NEGATIVES", "POSITIVES", "draw", "on_circle", "weights"]


def on_circle(degrees: list[float]) -> Tensor:
    """Points ``(K, 2)`` on the unit circle at the given angles (degrees)."""
    t = torch.tensor(degrees, dtype=torch.float32) * math.pi / 180
    return torch.stack([t.cos(), t.sin()], dim=1)


#: The query, its positives (15, 45 and 90 degrees away) and its negatives.
ANCHOR = on_circle([0.0])[0]
POSITIVES = on_circle([15.0, 45.0, 90.0])
NEGATIVES = on_circle([30.0, 60.0, 120.0, 160.0, 200.0, 240.0, 290.0, 330.0])


def weights(tau_pos: float, tau_neg: float) -> tuple[Tensor, Tensor, str]:
    """``(pi+ (3,), pi- (8,), caption)`` for the fixed points: the weights and their entropies."""
    w_pos = attraction_weights(ANCHOR, POSITIVES, tau_pos)
    w_neg = repulsion_weights(ANCHOR, NEGATIVES, tau_neg)
    caption = (
        f"entropy of pi+ {entropy(w_pos):.2f} (max {math.log(3):.2f}), "
        f"of pi- {entropy(w_neg):.2f} (max {math.log(8):.2f})"
    )
    return w_pos, w_neg, caption


def draw(tau_pos: float, tau_neg: float) -> go.Figure:
    """The circle with the query, positives (green) and negatives (red) sized by their weight."""
    w_pos, w_neg, caption = weights(tau_pos, tau_neg)
    circle = on_circle(list(range(0, 361, 5)))
    fig = go.Figure([
        go.Scatter(x=circle[:, 0], y=circle[:, 1], mode="lines", line={"color": "#ccc"},
                   showlegend=False),
        go.Scatter(x=[ANCHOR[0]], y=[ANCHOR[1]], mode="markers",
                   marker={"size": 14, "color": "black"}, name="query"),
        go.Scatter(x=POSITIVES[:, 0], y=POSITIVES[:, 1], mode="markers",
                   marker={"size": (6 + 40 * w_pos).tolist(), "color": "#2ca02c"},
                   name="positives (pi+)"),
        go.Scatter(x=NEGATIVES[:, 0], y=NEGATIVES[:, 1], mode="markers",
                   marker={"size": (6 + 40 * w_neg).tolist(), "color": "#d62728"},
                   name="negatives (pi-)"),
    ])  # fmt: skip
    return fig.update_layout(
        title=caption, height=420, width=520, xaxis={"range": [-1.3, 1.3]},
        yaxis={"range": [-1.3, 1.3], "scaleanchor": "x"},
    )  # fmt: skip
