"""CLSR notebook: what one caption query sees at a temperature (the explorer's functions)."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

__all__ = ["query_figure", "query_view"]


def query_view(
    sim: Tensor, relevant: Tensor, query: int, temperature: float, k: int = 20
) -> dict[str, Tensor | float]:
    """What one caption query sees at a temperature: its top-``k`` clips and their softmax.

    The behind-the-slider function of the notebook: ``softmax(sim[query] / t)`` over the whole
    gallery, the ``k`` most similar clips, whether each is relevant, and how much probability
    mass the relevant ones get. A small ``t`` puts all the mass on the top clip; the learned
    temperature picks the sharpness that fits the data.

    Returns:
        ``{"index": (k,), "prob": (k,), "relevant": (k,) bool, "relevant_mass": float,
        "entropy": float}`` (entropy in nats over the whole gallery).

    Raises:
        ValueError: a query out of range or a temperature <= 0.
    """
    if not 0 <= query < sim.shape[0]:
        raise ValueError(f"query must be in 0..{sim.shape[0] - 1}, got {query}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logp = torch.log_softmax(sim[query].double() / temperature, dim=0)  # (G,)
    p = logp.exp()
    top = sim[query].topk(min(k, sim.shape[1]))
    return {
        "index": top.indices,
        "prob": p[top.indices].float(),
        "relevant": relevant[query, top.indices],
        "relevant_mass": float(p[relevant[query]].sum()),
        "entropy": float(-(p * logp).sum()),
    }


def query_figure(
    sim: Tensor,
    relevant: Tensor,
    texts: list[str],
    learned_tau: float,
    query: int,
    tau: float,
    k: int = 20,
) -> go.Figure:
    """The explorer's view: softmax probabilities of the query's top-``k`` clips (green when
    relevant), titled with the relevant mass and the entropy (see :func:`query_view`).

    Args:
        sim: ``(captions, clips)`` cosines. relevant: ``(captions, clips)`` bool.
        texts: the captions (for the title). learned_tau: the model's learned temperature.
        query: the caption's row. tau: the temperature to look at it with.
    """
    v = query_view(sim, relevant, query, tau, k=k)
    fig = go.Figure(
        go.Bar(
            x=list(range(len(v["prob"]))),
            y=v["prob"].tolist(),
            marker_color=["seagreen" if r else "lightgray" for r in v["relevant"]],
        )
    )
    return fig.update_layout(
        height=320,
        xaxis_title="rank",
        yaxis_title="softmax probability",
        title=f"'{texts[query]}': relevant mass {v['relevant_mass']:.2f}, entropy "
        f"{v['entropy']:.2f} nats (learned tau {learned_tau:.3f})",
    )
