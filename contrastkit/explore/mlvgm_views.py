"""The MLVGM-views notebook's explorer: the views a generator makes when some levels are redrawn.

``view_explorer`` draws anchors and several views of each (the ticked latent levels redrawn, or
nudged by a random walk of scale eps) in a fixed 2-D basis and measures how many views keep the
anchor's class; ``draw`` makes the figure the notebook's check boxes and slider redraw.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..generators import LatentLevelsGenerator

__all__ = ["draw", "view_explorer"]


@torch.no_grad()
def view_explorer(
    generator: LatentLevelsGenerator,
    perturb,
    scale: float | None,
    n: int = 8,
    n_views: int = 6,
    basis: Tensor | None = None,
    seed: int = 0,
) -> dict:
    """What the notebook's view explorer draws (pure, so tests call it too).

    ``n`` anchors and ``n_views`` views of each (the ``perturb`` levels redrawn, or nudged by
    ``scale``), projected on ``basis`` (None: the top two principal directions of a fresh
    sample; pass the same one every time so that only the views move).

    Returns:
        ``{"anchors": (n, 2), "views": (n, n_views, 2), "y": (n,), "view_y": (n, n_views),
        "same_class": fraction of views that keep the anchor's class, "distance": mean distance
        from a view to its anchor relative to the mean distance between two anchors, "basis"}``.
    """
    perturb = tuple(perturb)
    if scale is not None and scale < 0:
        raise ValueError(f"scale must be >= 0 or None, got {scale!r}")
    if not perturb:  # nothing perturbed: each view is its anchor (up to output noise)
        perturb, scale = ("local",), 0.0
    latents = generator.sample_latents(n, seed=seed)
    x = generator.decode(latents, seed=seed)  # (n, D)
    views, view_y = [], []
    for v in range(n_views):
        moved = generator.resample(latents, perturb, seed=seed + 11 + v, scale=scale)
        views.append(generator.decode(moved, seed=seed + 101 + v))
        view_y.append(moved["class"])
    views_t = torch.stack(views, 1)  # (n, n_views, D)
    view_y_t = torch.stack(view_y, 1)  # (n, n_views)
    if basis is None:
        ref = generator.sample(500, seed=seed + 7).x
        basis = torch.linalg.svd(ref - ref.mean(0), full_matrices=False).Vh[:2].T  # (D, 2)
    between = torch.cdist(x, x).sum() / max(n * (n - 1), 1)
    distance = float((views_t - x[:, None]).norm(dim=2).mean() / between)
    return {
        "anchors": (x @ basis).numpy(),
        "views": (views_t @ basis).numpy(),
        "y": latents["class"].numpy(),
        "view_y": view_y_t.numpy(),
        "same_class": float((view_y_t == latents["class"][:, None]).float().mean()),
        "distance": distance,
        "basis": basis,
    }


def draw(
    generator: LatentLevelsGenerator,
    basis: Tensor,
    seed: int = 0,
    scale: float = 0.0,
    **levels: bool,
) -> go.Figure:
    """Anchors (large, outlined) and their views, coloured by class, for the ticked ``levels``.

    Args:
        generator: the multi-latent generator. basis: ``(D, 2)`` fixed projection.
        seed: the anchors' and views' draws. scale: the walk's eps; 0 redraws the levels.
        **levels: one flag per level name (``global=True, mid=False, ...``): redraw it or not.
    """
    perturb = [lv for lv, on in levels.items() if on]
    walk = scale or None  # 0 means "redraw"
    v = view_explorer(generator, perturb, walk, basis=basis, seed=seed)
    colours = {"cmin": 0, "cmax": generator.n_classes - 1, "colorscale": "Turbo"}
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=v["views"][..., 0].ravel(), y=v["views"][..., 1].ravel(), mode="markers", name="views",
        marker={"size": 6, "color": v["view_y"].ravel(), **colours},
    ))  # fmt: skip
    fig.add_trace(go.Scatter(
        x=v["anchors"][:, 0], y=v["anchors"][:, 1], mode="markers", name="anchors",
        marker={"size": 16, "color": v["y"], "line": {"width": 2, "color": "black"}, **colours},
    ))  # fmt: skip
    return fig.update_layout(
        height=380,
        title=f"redraw {perturb or 'nothing'}{'' if walk is None else f' (walk eps={walk})'}: "
        f"same class {v['same_class']:.2f}, view-anchor distance {v['distance']:.2f} x anchor "
        "spacing",
    )
