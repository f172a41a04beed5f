"""The MLCD notebook's explorer: a test canvas beside the mean canvases of its k closest centres."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import viz
from ..methods.mlcd import topk_indicators

__all__ = ["closest_centres", "draw"]


def closest_centres(features: Tensor, centroids: Tensor, k: int) -> Tensor:
    """``(N, k)`` ids of each sample's ``k`` closest centres (cosine), nearest first; the same
    centres as :func:`contrastkit.methods.mlcd.topk_indicators` marks."""
    order = (F.normalize(features.float(), dim=1) @ centroids.T).argsort(1, descending=True)[:, :k]
    assert bool((topk_indicators(features, centroids, k).gather(1, order) == 1).all())
    return order


def draw(
    k: int, *, queries: Tensor, features: Tensor, centroids: Tensor, cluster_means: Tensor
) -> go.Figure:
    """Each query canvas ``(n, C, H, W)`` followed by the mean canvases of its ``k`` closest
    centres (``features (n, D)`` of the queries, ``centroids (K, D)``, ``cluster_means``
    ``(K, C, H, W)``)."""
    order = closest_centres(features, centroids, k)
    rows = [torch.cat([queries[i : i + 1], cluster_means[order[i]]]) for i in range(len(queries))]
    fig = viz.image_grid(torch.cat(rows), n=len(queries) * (k + 1), ncol=k + 1)
    fig.update_layout(title=f"test canvas, then its {k} closest centres")
    return fig
