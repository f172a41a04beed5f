"""GRAM notebook: three unit vectors with given cosines, their volume and GRAM's pull."""

from __future__ import annotations

import plotly.graph_objects as go
import torch

__all__ = ["volume_figure", "volume_of_cosines"]


def volume_of_cosines(c01: float, c02: float, c12: float) -> dict:
    """Three unit vectors with the given pairwise cosines: their volume and GRAM's pull.

    The widget behind the notebook's sliders. ``det G = 1 + 2 c01 c02 c12 - c01^2 - c02^2 -
    c12^2`` is concave in ``c12``, peaking at ``c12 = c01 c02``: lowering the volume of a true
    tuple moves the non-anchor cosine ``c12`` *away* from ``c01 c02``, up when it is above,
    down (towards anti-alignment) when it is below.

    Returns:
        ``{"feasible": bool (G is a valid Gram matrix), "volume": float (nan if not),
        "vectors": (3, 3) tensor of vectors with these cosines (rows; nan if not),
        "pull": the direction gradient descent on the volume moves c12: +1, -1 or 0}``.
    """
    for name, c in (("c01", c01), ("c02", c02), ("c12", c12)):
        if not -1 <= c <= 1:
            raise ValueError(f"{name} must be a cosine in [-1, 1], got {c}")
    g = torch.tensor([[1, c01, c02], [c01, 1, c12], [c02, c12, 1]], dtype=torch.float64)
    det = float(torch.linalg.det(g))
    feasible = det >= -1e-12
    vectors = torch.full((3, 3), float("nan"), dtype=torch.float64)
    if feasible:  # G = L L^T: the rows of L are vectors with exactly these inner products
        evals, evecs = torch.linalg.eigh(g)
        vectors = evecs * evals.clamp(min=0).sqrt()
    diff = c12 - c01 * c02
    return {
        "feasible": feasible,
        "volume": max(det, 0.0) ** 0.5 if feasible else float("nan"),
        "vectors": vectors,
        "pull": 0 if abs(diff) < 1e-12 else (1 if diff > 0 else -1),
    }


_PULL = {1: "up (towards alignment)", -1: "down (towards anti-alignment)", 0: "nowhere"}


def volume_figure(c_tv: float, c_ta: float, c_va: float) -> go.Figure:
    """The explorer's view: the text, image and tone vectors with cosines ``c_tv``, ``c_ta``
    and ``c_va`` as arrows from the origin, titled with their volume and GRAM's pull on
    ``c_va`` (or saying that no three unit vectors have these cosines)."""
    out = volume_of_cosines(c_tv, c_ta, c_va)
    vectors = out["vectors"] if out["feasible"] else torch.zeros(3, 3)
    fig = go.Figure(
        [
            go.Scatter3d(
                x=[0, float(v[0])], y=[0, float(v[1])], z=[0, float(v[2])],
                mode="lines+text", name=name, text=["", name],
            )
            for name, v in zip(("text", "image", "tone"), vectors, strict=True)
        ]
    )  # fmt: skip
    title = (
        f"volume {out['volume']:.3f}; GRAM pulls c_va {_PULL[out['pull']]}"
        if out["feasible"]
        else "no three unit vectors have these cosines"
    )
    cube = {"xaxis_range": [-1, 1], "yaxis_range": [-1, 1], "zaxis_range": [-1, 1]}
    return fig.update_layout(height=420, title=title, scene={**cube, "aspectmode": "cube"})
