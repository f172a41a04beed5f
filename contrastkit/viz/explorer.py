"""One way to wire an interactive explorer: controls, and a pure function that draws.

    explorer = viz.explorer(draw, tau=viz.slider("tau", 0.2, 0.05, 1.0, 0.05))

``draw(**values)`` takes the controls' current values and returns what to show: a plotly
``Figure`` (shown as a ``FigureWidget`` whose traces and layout are updated in place, so the
view does not flicker), a string (shown as HTML), or a tuple of those. It is a pure function
(tests call it; a static page can precompute its frames); the explorer only reads the controls
and copies ``draw``'s output into the widgets whenever a control moves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

__all__ = ["explorer", "slider", "log_slider", "dropdown"]

_STYLE = {"description_width": "initial"}


def slider(description: str, value: float, min: float, max: float, step: float, **kw: Any):
    """A ``FloatSlider`` (an ``IntSlider`` when every number is an int) with a full label."""
    import ipywidgets as widgets

    numbers = (value, min, max, step)
    cls = widgets.IntSlider if all(isinstance(v, int) for v in numbers) else widgets.FloatSlider
    return cls(
        value=value, min=min, max=max, step=step, description=description, style=_STYLE, **kw
    )


def log_slider(description: str, value: float, min: float, max: float, step: float, **kw: Any):
    """A ``FloatLogSlider`` (base 10; ``min``/``max``/``step`` are exponents)."""
    import ipywidgets as widgets

    return widgets.FloatLogSlider(
        value=value, base=10, min=min, max=max, step=step, description=description,
        style=_STYLE, **kw,
    )  # fmt: skip


def dropdown(description: str, options: Any, value: Any = None, **kw: Any):
    """A ``Dropdown`` over ``options`` (a list, or a dict label -> value)."""
    import ipywidgets as widgets

    if value is None:
        value = next(iter(options.values())) if isinstance(options, dict) else list(options)[0]
    return widgets.Dropdown(
        options=options, value=value, description=description, style=_STYLE, **kw
    )


def _parts(out: Any) -> tuple:
    parts = out if isinstance(out, tuple) else (out,)
    for p in parts:
        if not isinstance(p, (go.Figure, str)):
            raise TypeError(f"draw must return Figures and/or strings, got {type(p).__name__}")
    return parts


def _copy_figure(target: go.FigureWidget, new: go.Figure) -> None:
    with target.batch_update():
        if len(target.data) == len(new.data) and all(
            a.type == b.type for a, b in zip(target.data, new.data)
        ):
            for old, trace in zip(target.data, new.data):
                old.update(trace.to_plotly_json(), overwrite=True)
        else:
            target.data = []
            target.add_traces(list(new.data))
        target.layout.update(new.layout.to_plotly_json(), overwrite=True)


def explorer(draw: Callable[..., Any], layout: str = "vertical", **controls: Any):
    """Controls above what ``draw(**values)`` shows, redrawn whenever a control moves.

    Args:
        draw: a pure function of the controls' values (keyword arguments named like
            ``controls``) returning a plotly Figure, a string of HTML, or a tuple of those.
        layout: ``"vertical"`` (controls in a row above the output) or ``"horizontal"``
            (controls in a column left of it).
        **controls: ipywidgets controls by argument name (:func:`slider`, :func:`dropdown`,
            or any widget with a ``value``).

    Returns:
        An ``ipywidgets.Box``; its ``.outputs`` are the FigureWidgets / HTML widgets, in the
        order ``draw`` returns them, and ``.redraw()`` redraws from the current values.

    Example:
        >>> def draw(tau):
        ...     return viz.curves({"weight": weights(tau)}, title=f"tau = {tau}")
        >>> viz.explorer(draw, tau=viz.slider("tau", 0.2, 0.05, 1.0, 0.05))
    """
    import ipywidgets as widgets

    if not controls:
        raise ValueError("explorer needs at least one control")

    def values() -> dict[str, Any]:
        return {name: w.value for name, w in controls.items()}

    outputs = [
        go.FigureWidget(p) if isinstance(p, go.Figure) else widgets.HTML(p)
        for p in _parts(draw(**values()))
    ]

    def redraw(_: Any = None) -> None:
        for target, part in zip(outputs, _parts(draw(**values()))):
            if isinstance(target, go.FigureWidget):
                _copy_figure(target, part)
            else:
                target.value = part

    for w in controls.values():
        w.observe(redraw, "value")
    if layout == "horizontal":
        box = widgets.HBox([widgets.VBox(list(controls.values())), widgets.VBox(outputs)])
    else:
        box = widgets.VBox([widgets.HBox(list(controls.values())), *outputs])
    box.outputs, box.redraw = outputs, redraw
    return box
