"""The ``supcon`` notebook: false negatives made visible, with a cosine-threshold explorer.

:func:`pair_cosines` lists every pair's cosine and whether it shares a label;
:func:`threshold_readout` and :func:`pairs_below` are what the threshold slider reports;
:func:`draw` draws it all for ``viz.explorer``: a line per method, the pair-cosine densities
with the threshold, and a gallery of SimCLR's same-class pairs pushed below it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["draw", "pair_cosines", "pairs_below", "threshold_readout"]


def pair_cosines(z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Cosine similarity of every pair ``i < j``: ``(cos, same, index)``.

    Returns:
        ``cos (P,)`` the pairs' cosines, ``same (P,)`` bool (same label) and ``index (P, 2)``
        the pairs' rows, ``P = N (N - 1) / 2``.
    """
    zn = F.normalize(z.detach().float().cpu(), dim=1)
    labels = labels.cpu()
    i, j = torch.triu_indices(len(zn), len(zn), offset=1)
    cos = (zn[i] * zn[j]).sum(dim=1)
    return cos, labels[i] == labels[j], torch.stack([i, j], dim=1)


def threshold_readout(cos: Tensor, same: Tensor, threshold: float) -> dict[str, float]:
    """What the threshold slider reports for one embedding.

    Returns:
        ``same_below``: share of same-class pairs with cosine below ``threshold`` (pushed
        apart: SimCLR's false negatives); ``different_above``: share of different-class pairs
        above it (confusable); ``same_mean`` / ``different_mean``: the two means.
    """
    if not -1 <= threshold <= 1:
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    if not same.any() or same.all():
        raise ValueError("need both same-class and different-class pairs")
    return {
        "same_below": float((cos[same] < threshold).float().mean()),
        "different_above": float((cos[~same] >= threshold).float().mean()),
        "same_mean": float(cos[same].mean()),
        "different_mean": float(cos[~same].mean()),
    }


def pairs_below(
    cos: Tensor, same: Tensor, index: Tensor, threshold: float, k: int = 8, seed: int = 0
) -> Tensor:
    """Up to ``k`` random same-class pairs ``(k, 2)`` whose cosine is below ``threshold``."""
    hits = (same & (cos < threshold)).nonzero().flatten()
    pick = torch.randperm(len(hits), generator=torch.Generator().manual_seed(seed))[:k]
    return index[hits[pick]]


#: Density bins of the pair cosines (the explorer's histogram).
EDGES = np.linspace(-0.2, 1.0, 61)
COLOURS = ("#1f77b4", "#d62728")


def draw(
    threshold: float,
    pairs: Mapping[str, tuple[Tensor, Tensor, Tensor]],
    images: Tensor,
    gallery_of: str = "SimCLR",
    k: int = 8,
    seed: int = 0,
):
    """The threshold explorer: ``(readout HTML, densities figure, gallery figure)``.

    Args:
        threshold: the cosine the slider sets.
        pairs: method name -> :func:`pair_cosines` of its test embeddings (two methods).
        images: the images those rows index ``(N, C, H, W)``, for the gallery.
        gallery_of: the method whose same-class pairs below the threshold are shown.
        k: pairs in the gallery. seed: which ones.
    """
    import plotly.graph_objects as go

    from ..viz import image_grid

    lines = []
    for name, (cos, same, _) in pairs.items():
        r = threshold_readout(cos, same, threshold)
        lines.append(
            f"<b>{name}</b>: {r['same_below']:.0%} of same-class pairs below {threshold:.2f}, "
            f"{r['different_above']:.0%} of different-class pairs above"
        )
    densities = go.Figure()
    for (name, (cos, same, _)), colour in zip(pairs.items(), COLOURS):
        for kind, mask, opacity in (("same class", same, 1.0), ("different class", ~same, 0.35)):
            counts, _ = np.histogram(cos[mask].numpy(), bins=EDGES, density=True)
            densities.add_trace(
                go.Scatter(
                    x=EDGES[:-1], y=counts, mode="lines", line_shape="hvh",
                    name=f"{name}: {kind}", line={"color": colour}, opacity=opacity,
                )
            )  # fmt: skip
    line = {"type": "line", "x0": threshold, "x1": threshold, "y0": 0, "y1": 1, "yref": "paper"}
    densities.update_layout(
        height=350,
        xaxis_title="cosine similarity",
        yaxis_title="density",
        shapes=[{**line, "line": {"dash": "dash"}}],
    )
    cos, same, index = pairs[gallery_of]
    below = pairs_below(cos, same, index, threshold, k=k, seed=seed)
    if len(below):
        shown = torch.cat([images[below[:, 0]], images[below[:, 1]]]).cpu()
        gallery = image_grid(shown, n=2 * len(below), ncol=len(below))
    else:  # one blank tile keeps the figure's single image trace
        gallery = image_grid(torch.ones_like(images[:1]).cpu(), n=1, ncol=1)
    gallery.update_layout(
        title=f"{gallery_of}: {len(below)} same-class pairs with cosine below {threshold:.2f}"
    )
    return "<br>".join(lines), densities, gallery
