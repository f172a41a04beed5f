"""The ``align_uniform`` notebook: alignment and uniformity on the sphere, and its step explorer.

:func:`sphere_embedding` is where both of the notebook's losses act (the projector's output,
normalised), :func:`measure` reads alignment and uniformity there on fixed positive pairs (a
``fit`` ``eval_fn``), :func:`explorer_state` picks the snapshot a step slider shows, and
:func:`draw` draws it for ``viz.explorer``: the test images on the 3-D sphere beside the path
taken in the alignment-uniformity plane.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..metrics import alignment, uniformity
from ..utils import eval_mode

__all__ = ["draw", "explorer_state", "measure", "sphere_embedding"]


@torch.no_grad()
def sphere_embedding(method: nn.Module, x: Tensor) -> Tensor:
    """``normalize(projector(encoder(x)))`` in eval mode: where align + uniform acts, (N, D)."""
    with eval_mode(method):
        return F.normalize(method.projector(method.encoder(x)), dim=1)


def measure(
    method: nn.Module,
    view_a: Tensor,
    view_b: Tensor,
    sphere_x: Tensor | None = None,
    points: list | None = None,
) -> dict[str, float]:
    """Alignment and uniformity of the loss's embedding of fixed pairs ``(view_a, view_b)``.

    Args:
        method: an encoder + projector method (``AlignUniform``, ``SimCLR``).
        view_a, view_b: two views of the same images ``(N, C, H, W)``: the positive pairs.
        sphere_x: images whose embedding is appended to ``points`` (as a NumPy array), to
            snapshot the sphere while training.
        points: the list that collects those snapshots.

    Returns:
        ``{"align": L_align(a, b), "unif": L_uniform(a)}`` (lower is better for both).
    """
    za, zb = sphere_embedding(method, view_a), sphere_embedding(method, view_b)
    if points is not None and sphere_x is not None:
        points.append(sphere_embedding(method, sphere_x).cpu().numpy())
    return {"align": float(alignment(za, zb)), "unif": float(uniformity(za))}


def explorer_state(snapshots: Sequence[Mapping], step: int) -> dict:
    """What the notebook's sphere explorer draws at a training step (pure, so tests call it).

    Args:
        snapshots: in step order, each ``{"step": int, "points": (M, 3) array, "align": float,
            "unif": float}``: the 3-D projections of fixed images, and the alignment and
            uniformity measured at that step.
        step: the slider's value; the latest snapshot taken at or before it is shown (the
            first one for a step before every snapshot).

    Returns:
        ``{"index", "step", "points": (M, 3) on the unit sphere, "align", "unif", "path":
        (aligns, unifs) of the snapshots up to this one (the trajectory in the plane)}``.

    Raises:
        ValueError: for no snapshots, or snapshots out of step order.
    """
    if not snapshots:
        raise ValueError("snapshots must not be empty")
    steps = [int(s["step"]) for s in snapshots]
    if steps != sorted(steps):
        raise ValueError(f"snapshots must be in step order, got steps {steps}")
    index = max(0, int(np.searchsorted(steps, step, side="right")) - 1)
    shown = snapshots[index]
    points = np.asarray(shown["points"], dtype=float)
    points = points / np.linalg.norm(points, axis=1, keepdims=True).clip(1e-12)
    upto = snapshots[: index + 1]
    return {
        "index": index,
        "step": steps[index],
        "points": points,
        "align": float(shown["align"]),
        "unif": float(shown["unif"]),
        "path": ([float(s["align"]) for s in upto], [float(s["unif"]) for s in upto]),
    }


def draw(
    step: int,
    snapshots: Sequence[Mapping],
    labels: Tensor | np.ndarray | None = None,
    names: Sequence[str] | None = None,
):
    """The explorer's figure at ``step``: the sphere (left) and the alignment-uniformity path.

    Example:
        >>> viz.explorer(functools.partial(draw, snapshots=snapshots, labels=y),
        ...              step=widgets.SelectionSlider(options=steps, description="step"))
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..viz import sphere

    state = explorer_state(snapshots, step)
    ball = sphere(state["points"], labels, names=names)
    fig = make_subplots(
        rows=1,
        cols=2,
        specs=[[{"type": "scene"}, {"type": "xy"}]],
        column_widths=[0.6, 0.4],
        subplot_titles=["test images on the 3-D sphere", "alignment-uniformity plane"],
    )
    for trace in ball.data:
        fig.add_trace(trace, row=1, col=1)
    align, unif = state["path"]
    fig.add_trace(
        go.Scatter(x=unif, y=align, mode="lines+markers", name="path", line={"color": "grey"}),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=unif[-1:], y=align[-1:], mode="markers", name="now",
            marker={"size": 14, "color": "black"},
        ),
        row=1,
        col=2,
    )  # fmt: skip
    fig.update_layout(
        height=480,
        scene=ball.layout.scene,
        legend={"itemsizing": "constant"},
        title=f"step {state['step']}: alignment {state['align']:.3f}, "
        f"uniformity {state['unif']:.3f}",
    )
    fig.update_xaxes(title_text="L_uniform (lower: more uniform)", row=1, col=2)
    fig.update_yaxes(title_text="L_align (lower: better aligned)", row=1, col=2)
    return fig
