"""Symile notebook: the information the XOR set's modalities share, as the switch p moves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from ..data import xor_information

__all__ = ["INFORMATION", "information_figure"]

#: The information terms the explorer shows, in bits (keys of ``data.xor_information``).
INFORMATION = ("I(a;b)", "I(b;c)", "I(a;c)", "I(b;a,c)", "TC")


def information_figure(
    accuracy: Mapping[str, Mapping[float, float]], d_bits: int, p: float
) -> go.Figure:
    """The explorer's view at switch probability ``p``: the information terms (bars, bits), and
    in the title the Bayes accuracy and the accuracies trained at the nearest trained ``p``.

    Args:
        accuracy: ``{"symile": {p: acc}, "clip": {p: acc}}`` at the trained switch probabilities.
        d_bits: bits per modality. p: the switch probability to show.
    """
    info = xor_information(d_bits, p)
    trained: Sequence[float] = sorted(accuracy["symile"])
    near = min(trained, key=lambda q: abs(q - p))
    fig = go.Figure(go.Bar(x=list(INFORMATION), y=[info[k] for k in INFORMATION]))
    return fig.update_layout(
        height=320,
        yaxis_range=[0, d_bits * 2],
        yaxis_title="bits",
        title=f"p={p:.2f}: Bayes accuracy {p + (1 - p) / 2**d_bits:.3f}; trained at p={near}: "
        f"Symile {accuracy['symile'][near]:.3f}, CLIP {accuracy['clip'][near]:.3f}",
    )
