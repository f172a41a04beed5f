"""viz.explorer: controls drive a pure draw function; figures update in place."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from contrastkit import viz


def draw(a, b, kind="line"):
    trace = go.Scatter(y=[a, b]) if kind == "line" else go.Bar(y=[a, b, a + b])
    return go.Figure(trace, layout={"title": f"a={a}"}), f"<b>{a + b}</b>"


def test_moving_a_control_redraws_figure_and_html_in_place():
    box = viz.explorer(draw, a=viz.slider("a", 1, 0, 5, 1), b=viz.slider("b", 0.5, 0.0, 1.0, 0.1))
    fig, html = box.outputs
    assert isinstance(fig, go.FigureWidget) and fig.data[0].y == (1, 0.5)
    a = box.children[0].children[0]
    a.value = 3
    assert fig.data[0].y == (3, 0.5) and html.value == "<b>3.5</b>"
    assert fig.layout.title.text == "a=3"


def test_trace_types_may_change_and_unobserved_controls_do_nothing():
    kind = viz.dropdown("kind", ["line", "bar"])
    box = viz.explorer(
        draw, a=viz.slider("a", 1, 0, 5, 1), b=viz.slider("b", 2, 0, 5, 1), kind=kind
    )
    kind.value = "bar"
    assert box.outputs[0].data[0].type == "bar" and box.outputs[0].data[0].y == (1, 2, 3)
    kind.unobserve_all("value")
    kind.value = "line"
    assert box.outputs[0].data[0].type == "bar"  # the browser tests rely on this control


def test_bad_draw_and_no_controls_are_errors():
    with pytest.raises(TypeError, match="draw must return"):
        viz.explorer(lambda a: 1, a=viz.slider("a", 1, 0, 5, 1))
    with pytest.raises(ValueError, match="at least one control"):
        viz.explorer(draw)
    assert type(viz.slider("x", 0.1, 0.0, 1.0, 0.1)).__name__ == "FloatSlider"
    assert type(viz.log_slider("x", 1.0, -1, 1, 0.1)).__name__ == "FloatLogSlider"
