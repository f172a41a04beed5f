"""The joint image-volume notebook's explorer: scroll through a volume's slices and see what the
slice transformer attends to from each."""

from __future__ import annotations

import plotly.graph_objects as go
from torch import Tensor

__all__ = ["slice_view", "draw"]


def slice_view(x: Tensor, z: int) -> Tensor:
    """Slice ``z`` of volume ``x (D, S, S)``; raises on a bad ``z``."""
    if not isinstance(z, int) or not 0 <= z < x.shape[0]:
        raise ValueError(f"z must be an int in [0, {x.shape[0] - 1}], got {z!r}")
    return x[z]


def draw(volume: int, z: int, *, volumes: Tensor, attention: Tensor) -> go.Figure:
    """Slice ``z`` of ``volumes[volume]`` (``(n, D, S, S)``) beside slice z's attention weights
    over ``[CLS]`` and the ``D`` slices (``attention (n, 1 + D, 1 + D)``)."""
    depth = volumes.shape[1]
    img = slice_view(volumes[volume], z).flip(0).tolist()
    fig = go.Figure(
        [
            go.Heatmap(z=img, colorscale="gray", showscale=False),
            go.Bar(
                y=attention[volume, 1 + z].tolist(),
                x=["cls", *range(depth)],
                xaxis="x2",
                yaxis="y2",
            ),
        ]
    )
    fig.update_layout(
        height=320,
        xaxis={"domain": [0, 0.4], "showticklabels": False},
        yaxis={"showticklabels": False},
        xaxis2={"domain": [0.5, 1], "title": "attended slice"},
        yaxis2={"anchor": "x2", "title": "weight"},
    )
    return fig
