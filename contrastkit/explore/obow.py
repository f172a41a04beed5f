"""The OBoW notebook's explorer: the bag of visual words as the assignment sharpens."""

from __future__ import annotations

import plotly.graph_objects as go
from torch import Tensor

from ..methods.obow import bag_of_words, perplexity, soft_assign

__all__ = ["bags", "draw"]


def bags(
    inv_delta: float, local: Tensor, vocabulary: Tensor, scale: Tensor | float, sample: int = 0
) -> tuple[Tensor, Tensor, float]:
    """One scene's BoW ``(K,)``, the mean BoW over scenes ``(K,)`` and its perplexity, for local
    teacher features ``(N, L, C)`` and the vocabulary ``(K, C)`` at sharpness ``inv_delta``."""
    bow = bag_of_words(soft_assign(local, vocabulary, inv_delta, scale))
    return bow[sample], bow.mean(0), perplexity(bow)


def draw(
    inv_delta: float, *, local: Tensor, vocabulary: Tensor, scale: Tensor | float
) -> tuple[str, go.Figure]:
    """A line with the perplexity, and the two histograms side by side."""
    one, mean_bow, ppl = bags(inv_delta, local, vocabulary, scale)
    fig = go.Figure(
        [
            go.Bar(y=one.tolist(), name="one scene"),
            go.Bar(y=mean_bow.tolist(), name="mean over scenes", xaxis="x2", yaxis="y2"),
        ]
    )
    fig.update_layout(
        height=300,
        xaxis={"domain": [0, 0.45], "title": "word"},
        xaxis2={"domain": [0.55, 1], "title": "word"},
        yaxis2={"anchor": "x2"},
    )
    return f"perplexity of the mean histogram: {ppl:.1f} of {len(mean_bow)} words", fig
