"""CLIP notebook: zero-shot accuracy per prompt template, and text -> image retrieval.

Both are pure functions of a trained model, the test images and a control's value; the
notebook wires them to a dropdown of templates and a text box with ``viz.explorer``.
"""

from __future__ import annotations

import plotly.graph_objects as go
from torch import Tensor

from ..data.captions import decode, tokenize
from ..methods.clip import CLIP, top_images, zero_shot
from ..viz import image_grid

__all__ = ["prompt_figure", "query_figure"]


def prompt_figure(
    model: CLIP, x: Tensor, y: Tensor, classes: list[str], template: str = "a {}"
) -> go.Figure:
    """Zero-shot recall per class with the prompts ``template`` makes (bars, y in [0, 1])."""
    out = zero_shot(model, x, y, classes, template)
    fig = go.Figure(go.Bar(x=list(classes), y=out["per_class"].numpy()))
    return fig.update_layout(
        height=300,
        yaxis_range=[0, 1],
        yaxis_title="zero-shot accuracy",
        title=f"'{out['prompts'][0]}', ...: zero-shot accuracy {out['accuracy']:.3f}",
    )


def query_figure(
    model: CLIP, x: Tensor, y: Tensor, classes: list[str], query: str, k: int = 8
) -> go.Figure:
    """The ``k`` images of ``x`` nearest a free-text query, titled with their classes.

    An empty query is read as "a"; words outside the vocabulary are dropped (the title shows
    the query as the model reads it).
    """
    tokens = tokenize(query or "a")
    ids, _ = top_images(model, x, tokens, k=k)
    names = ", ".join(classes[int(i)] for i in y[ids.to(y.device)])
    return image_grid(x[ids.to(x.device)].cpu(), n=k, ncol=k).update_layout(
        title=f"top {k} for '{decode(tokens)}': {names}"
    )
