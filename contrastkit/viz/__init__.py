"""Plotly figures every notebook uses: samples, embeddings (2-D, 3-D sphere), curves, histograms.

Each function returns a ``plotly.graph_objects.Figure``; :func:`explorer` wires ipywidgets
controls to a pure function that draws one (the one way the notebooks make an explorer).
Projections: PCA (instant; quick mode) or UMAP (better, but its first fit costs 12-18 s of JIT;
full mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from torch import Tensor

from .explorer import dropdown, explorer, log_slider, slider
from .labels import PART_PALETTE, label_image

__all__ = [
    "project",
    "image_grid",
    "embedding_scatter",
    "sphere",
    "similarity_histogram",
    "curves",
    "explorer",
    "slider",
    "log_slider",
    "dropdown",
    "PART_PALETTE",
    "label_image",
]

PALETTE = qualitative.Plotly + qualitative.D3


def _np(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def project(z: Tensor | np.ndarray, dim: int = 2, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``(N, D)`` -> ``(N, dim)`` by PCA or UMAP (``method="umap"``; slow first call)."""
    z = _np(z)
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(dim, random_state=seed).fit_transform(z)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=dim, random_state=seed, n_neighbors=15).fit_transform(z)
    raise ValueError(f"method must be 'pca' or 'umap', got {method!r}")


def image_grid(
    x: Tensor, n: int = 32, ncol: int = 8, labels: Sequence[str] | None = None, title: str = ""
) -> go.Figure:
    """The first ``n`` images of ``(N, C, H, W)`` in ``[0, 1]`` tiled ``ncol`` per row."""
    x = x[:n].detach().float().cpu().clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, _, h, w = x.shape
    nrow = (n + ncol - 1) // ncol
    pad = 1
    canvas = torch.ones(3, nrow * (h + pad), ncol * (w + pad))
    for i in range(n):
        r, c = divmod(i, ncol)
        canvas[:, r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = x[i]
    fig = go.Figure(go.Image(z=(canvas.permute(1, 2, 0).numpy() * 255).astype(np.uint8)))
    if labels is not None:
        for i, lab in enumerate(labels[:n]):
            r, c = divmod(i, ncol)
            fig.add_annotation(
                x=c * (w + pad) + w / 2,
                y=r * (h + pad) - 0.5,
                text=str(lab),
                showarrow=False,
                font={"size": 9},
                yshift=4,
            )
    fig.update_layout(
        title=title,
        margin={"l": 0, "r": 0, "t": 40 if title else 10, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=max(150, 60 * nrow + 40),
        width=min(900, 70 * ncol + 40),
    )
    return fig


def _groups(labels: Tensor | np.ndarray | None, n: int, names: Sequence[str] | None):
    labels = np.zeros(n, dtype=int) if labels is None else _np(labels).astype(int)
    for i, lab in enumerate(np.unique(labels)):
        name = names[lab] if names is not None and lab < len(names) else str(lab)
        yield name, labels == lab, PALETTE[i % len(PALETTE)]


def embedding_scatter(
    z: Tensor | np.ndarray,
    labels: Tensor | np.ndarray | None = None,
    dim: int = 2,
    method: str = "pca",
    names: Sequence[str] | None = None,
    title: str = "",
) -> go.Figure:
    """Embeddings projected to 2-D or 3-D (PCA or UMAP), coloured by label."""
    p = project(z, dim, method) if _np(z).shape[1] != dim else _np(z)
    fig = go.Figure()
    for name, mask, colour in _groups(labels, len(p), names):
        kw = {
            "x": p[mask, 0],
            "y": p[mask, 1],
            "mode": "markers",
            "name": name,
            "marker": {"size": 3 if dim == 3 else 5, "color": colour},
        }
        fig.add_trace(go.Scatter3d(z=p[mask, 2], **kw) if dim == 3 else go.Scattergl(**kw))
    fig.update_layout(
        title=title or f"{method.upper()} of the embeddings",
        height=450,
        legend={"itemsizing": "constant"},
    )
    return fig


def sphere(
    z: Tensor | np.ndarray,
    labels: Tensor | np.ndarray | None = None,
    names: Sequence[str] | None = None,
    title: str = "",
) -> go.Figure:
    """3-D embeddings normalised onto the unit sphere, drawn over a translucent sphere."""
    p = _np(z)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"z must be (N, 3) for the sphere plot, got {p.shape}")
    p = p / np.linalg.norm(p, axis=1, keepdims=True).clip(1e-12)
    u, v = np.mgrid[0 : 2 * np.pi : 40j, 0 : np.pi : 20j]
    fig = go.Figure(
        go.Surface(
            x=np.cos(u) * np.sin(v),
            y=np.sin(u) * np.sin(v),
            z=np.cos(v),
            opacity=0.15,
            showscale=False,
            colorscale="Greys",
            hoverinfo="skip",
        )
    )
    for name, mask, colour in _groups(labels, len(p), names):
        fig.add_trace(
            go.Scatter3d(
                x=p[mask, 0],
                y=p[mask, 1],
                z=p[mask, 2],
                mode="markers",
                name=name,
                marker={"size": 2.5, "color": colour},
            )
        )
    axis = {"range": [-1.1, 1.1], "showticklabels": False, "title": ""}
    fig.update_layout(
        title=title,
        height=450,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        scene={"xaxis": axis, "yaxis": axis, "zaxis": axis, "aspectmode": "cube"},
        legend={"itemsizing": "constant"},
    )
    return fig


def similarity_histogram(z: Tensor, labels: Tensor, title: str = "", bins: int = 60) -> go.Figure:
    """Cosine similarities of same-class vs different-class pairs (false negatives made visible)."""
    zn = torch.nn.functional.normalize(z.detach().float().cpu(), dim=1)
    sim = zn @ zn.T
    y = labels.cpu()
    same = y[:, None] == y[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool)
    fig = go.Figure()
    for name, mask in (("same class", same & off), ("different class", ~same)):
        fig.add_trace(
            go.Histogram(
                x=sim[mask].numpy(),
                name=name,
                histnorm="probability density",
                opacity=0.6,
                nbinsx=bins,
            )
        )
    fig.update_layout(
        barmode="overlay",
        title=title or "cosine similarity of pairs",
        xaxis_title="cosine similarity",
        yaxis_title="density",
        height=350,
    )
    return fig


def curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str = "",
    xaxis: str = "step",
    yaxis: str = "",
    log_x: bool = False,
) -> go.Figure:
    """Named ``(x, y)`` lines on one plot, e.g. training losses or a metric against tau."""
    fig = go.Figure()
    for i, (name, (x, y)) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=list(y),
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title=yaxis, height=350)
    if log_x:
        fig.update_xaxes(type="log")
    return fig
