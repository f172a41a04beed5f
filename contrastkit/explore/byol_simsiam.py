"""The ``byol_simsiam`` notebook: collapse indicators while training, and the variant explorer.

:func:`projections` and :func:`indicators` read the projector's output (where the papers
measure collapse) in eval mode; :func:`explorer_state` is what the explorer shows for one run
and one indicator, and :func:`draw` draws it for ``viz.explorer``: the indicator's curves with
the chosen run highlighted, and that run's normalised test embeddings in 3-D.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from ..metrics import effective_rank, embedding_std
from ..utils import eval_mode

__all__ = ["INDICATORS", "draw", "explorer_state", "indicators", "projections"]

#: The collapse indicators: key in the runs -> what the figures call it.
INDICATORS = {"std": "std", "erank": "effective rank"}


@torch.no_grad()
def projections(method: nn.Module, x: Tensor) -> Tensor:
    """The projector's output ``z = method.project(x)`` in eval mode, ``(N, D)`` on the CPU."""
    with eval_mode(method):
        return method.project(x).cpu()


def indicators(method: nn.Module, x: Tensor) -> dict[str, float]:
    """``{"std": embedding_std(z), "erank": effective_rank(z)}`` of ``z = projections(x)``."""
    z = projections(method, x)
    return {"std": embedding_std(z), "erank": effective_rank(z)}


def explorer_state(runs: Mapping[str, Mapping], variant: str, metric: str = "std") -> dict:
    """What the notebook's variant explorer draws for one choice (pure, so tests call it too).

    Args:
        runs: name -> a finished run, ``{"step": [...], "std": [...], "erank": [...],
            "dim": D, "points": (M, 3) array}``; ``std``/``erank`` are the collapse indicators
            (``metrics.embedding_std`` / ``metrics.effective_rank`` of the projector's output)
            measured at ``step``; ``points`` are the run's L2-normalised embeddings in 3-D.
        variant: the run to highlight. metric: ``"std"`` or ``"erank"``.

    Returns:
        ``{"curves": name -> (steps, values) with the chosen run first, "reference": the value
        of a healthy, spread-out embedding (1/sqrt(D) for std, D for erank), "final": the chosen
        run's last value, "fraction": final / reference, "points": its 3-D points}``.

    Raises:
        KeyError: for an unknown variant. ValueError: for an unknown metric.
    """
    if metric not in ("std", "erank"):
        raise ValueError(f"metric must be 'std' or 'erank', got {metric!r}")
    if variant not in runs:
        raise KeyError(f"unknown variant {variant!r}; runs: {', '.join(runs)}")
    chosen = runs[variant]
    order = [variant] + [name for name in runs if name != variant]
    curves = {name: (list(runs[name]["step"]), list(runs[name][metric])) for name in order}
    dim = int(chosen["dim"])
    reference = 1.0 / math.sqrt(dim) if metric == "std" else float(dim)
    final = float(chosen[metric][-1])
    return {
        "curves": curves,
        "reference": reference,
        "final": final,
        "fraction": final / reference,
        "points": np.asarray(chosen["points"]),
    }


def draw(
    run: str,
    metric: str,
    runs: Mapping[str, Mapping],
    colours: Mapping[str, str],
    labels: np.ndarray | None = None,
):
    """The explorer's two figures for one run and indicator: ``(curves, 3-D points)``.

    Args:
        run, metric: as in :func:`explorer_state`.
        runs: as in :func:`explorer_state`. colours: run name -> line colour.
        labels: class of each point, for the points' colours.

    Example:
        >>> viz.explorer(functools.partial(draw, runs=runs, colours=colours, labels=y),
        ...              run=viz.dropdown("run", list(runs)),
        ...              metric=widgets.ToggleButtons(options=[("std", "std")]))
    """
    import plotly.graph_objects as go

    state = explorer_state(runs, run, metric)
    curves = go.Figure()
    for name, (x, y) in state["curves"].items():
        chosen = name == run
        curves.add_scatter(
            x=x, y=y, name=name, mode="lines+markers",
            line={"color": colours[name], "width": 4 if chosen else 1},
            opacity=1.0 if chosen else 0.35,
        )  # fmt: skip
    steps = state["curves"][run][0]
    curves.add_scatter(
        x=[steps[0], steps[-1]], y=[state["reference"]] * 2, name="isotropic", mode="lines",
        line={"color": "grey", "dash": "dot"},
    )  # fmt: skip
    curves.update_layout(
        height=330,
        yaxis_title=INDICATORS[metric],
        title=f"{run}: final {state['final']:.3g} = {state['fraction']:.0%} of the isotropic value",
    )
    x, y, z = np.asarray(state["points"]).T
    points = go.Figure(
        go.Scatter3d(
            x=x, y=y, z=z, mode="markers",
            marker={"size": 2.5, "color": labels, "colorscale": "Turbo"},
        )
    )  # fmt: skip
    axis = {"range": [-1, 1]}
    points.update_layout(
        height=420,
        scene={"xaxis": axis, "yaxis": axis, "zaxis": axis, "aspectmode": "cube"},
        title=f"{run}: normalised test embeddings (PCA of z/|z|)",
    )
    return curves, points
