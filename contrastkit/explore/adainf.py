"""The AdaInf notebook's explorer: generated rows among real ones as the quality moves.

``inflation_view`` samples a degraded generator and measures how its rows sit among the real
ones (kNN agreement with the meant class, mean shift); ``draw`` makes the figure the notebook's
quality slider redraws, in a fixed 2-D basis so that only the generated points move.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..generators import LatentLevelsGenerator
from ..metrics import knn_accuracy

__all__ = ["draw", "inflation_view"]


@torch.no_grad()
def inflation_view(
    real_x: Tensor,
    real_y: Tensor,
    generator: LatentLevelsGenerator,
    quality: float,
    n: int = 500,
    basis: Tensor | None = None,
    seed: int = 0,
) -> dict:
    """What the notebook's quality slider draws (pure, so tests call it too).

    Samples ``n`` rows from ``generator.degraded(quality)`` and measures how they sit among the
    real rows: ``agreement`` is the kNN accuracy (k = 20, cosine, the real rows as reference)
    of the generated rows against the class the generator meant, ``real_agreement`` the same for
    ``n`` fresh real rows (what a perfect generator would score), ``shift`` the distance between
    the real and generated means in units of the real data's per-feature std.

    Args:
        real_x, real_y: ``(M, D)`` real rows and their classes.
        generator: the faithful generator; quality: in [0, 1] (1 = the generator itself).
        basis: ``(D, 2)`` projection (None: the real rows' top two principal directions; pass
            the same one for every quality so that only the generated points move).

    Returns:
        ``{"real": (M, 2), "gen": (n, 2), "gen_y": (n,), "basis": (D, 2), "agreement",
        "real_agreement", "shift"}``.
    """
    if not 0.0 <= quality <= 1.0:
        raise ValueError(f"quality must be in [0, 1], got {quality!r}")
    # an offset seed: the real rows may come from ``generator.sample(..., seed=seed + 1)``, and
    # the same latents would make every generated row a near twin of a real one
    fake = generator.degraded(quality, seed=seed).sample(n, seed=seed + 65_537)
    centre = real_x.mean(0)
    if basis is None:
        basis = torch.linalg.svd(real_x - centre, full_matrices=False).Vh[:2].T  # (D, 2)
    fresh = generator.sample(n, seed=seed + 131_071)
    agreement = knn_accuracy(real_x, real_y, fake.x, fake.y)
    real_agreement = knn_accuracy(real_x, real_y, fresh.x, fresh.y)
    shift = float(((fake.x.mean(0) - centre) / real_x.std(0)).norm())
    return {
        "real": ((real_x - centre) @ basis).numpy(),
        "gen": ((fake.x - centre) @ basis).numpy(),
        "gen_y": fake.y.numpy(),
        "basis": basis,
        "agreement": agreement,
        "real_agreement": real_agreement,
        "shift": shift,
    }


def draw(
    real_x: Tensor,
    real_y: Tensor,
    generator: LatentLevelsGenerator,
    basis: Tensor,
    quality: float,
    n: int = 500,
    seed: int = 0,
) -> go.Figure:
    """Real rows (grey) and rows of ``generator.degraded(quality)`` (crosses, by class)."""
    v = inflation_view(real_x, real_y, generator, quality, n=n, basis=basis, seed=seed)
    fig = go.Figure([
        go.Scatter(x=v["real"][:, 0], y=v["real"][:, 1], mode="markers", name="real",
                   marker={"size": 5, "color": "grey"}),
        go.Scatter(x=v["gen"][:, 0], y=v["gen"][:, 1], mode="markers", name="generated",
                   marker={"size": 5, "symbol": "x", "color": v["gen_y"], "colorscale": "Turbo"}),
    ])  # fmt: skip
    return fig.update_layout(
        height=360, title=f"quality {quality:.1f}: agreement {v['agreement']:.2f} "
        f"(real {v['real_agreement']:.2f}), shift {v['shift']:.2f} std",
    )  # fmt: skip
