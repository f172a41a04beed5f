"""M5Product notebook: one sample's modality graph and the weight each fusion gives it."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from ..methods.m5product import WEIGHTINGS, agreement_weights, scale_weights, similarity_graph

__all__ = ["weights_figure", "weights_view"]


def weights_view(
    h: Tensor, present: Tensor, sharpness: float, bias: Tensor | None = None
) -> dict[str, Tensor]:
    """One sample's similarity graph and its three weightings, for the notebook's controls.

    Args:
        h: ``(M, D)`` the sample's modality embeddings. present: ``(M,)`` bool, the modalities
            kept (missing or dropped ones False). sharpness, bias: the learned ``s`` and ``b``.

    Returns:
        ``{"graph": (M, M), "equal": (M,), "scale": (M,), "agreement": (M,)}``, each weighting
        normalised to sum 1 over the present modalities (0 elsewhere).

    Raises:
        ValueError: mismatched shapes or no modality present.
    """
    if h.ndim != 2 or present.shape != (h.shape[0],):
        raise ValueError(
            f"h must be (M, D) and present (M,), got {tuple(h.shape)}, {tuple(present.shape)}"
        )
    if not present.any():
        raise ValueError("present must keep at least one modality")
    hh, mk = h[None].float(), present[None].bool()
    scale = scale_weights(hh, mk)[0]
    return {
        "graph": similarity_graph(hh, mk)[0],
        "equal": mk[0].float() / mk.sum(),
        "scale": scale / scale.sum().clamp(min=1e-12),
        "agreement": agreement_weights(hh, mk, sharpness, bias)[0],
    }


def weights_figure(
    h: Tensor,
    mask: Tensor,
    corrupted: Tensor,
    captions: Sequence[str],
    names: Sequence[str],
    sharpness: float,
    bias: Tensor | None,
    sample: int,
    **kept: bool,
) -> go.Figure:
    """The explorer's view of test ``sample``: its cosine graph (left) and three weightings (right).

    Args:
        h: ``(N, M, D)`` the samples' modality embeddings. mask: ``(N, M)`` bool, present.
        corrupted: ``(N, M)`` bool, entries replaced by noise. captions: one per sample.
        names: the ``M`` modality names. sharpness, bias: the learned ``s`` and ``b``.
        sample: which sample. **kept: one bool per modality name, False to drop it.

    With nothing left to weigh, the figure keeps empty panels and says so in its title.
    """
    keep = torch.tensor([bool(kept.get(n, True)) for n in names])
    present = mask[sample] & keep
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55])
    m = len(names)
    graph, bars = torch.zeros(m, m), {k: torch.zeros(m) for k in WEIGHTINGS}
    if present.any():
        v = weights_view(h[sample], present, sharpness, bias)
        graph, bars = v["graph"], {k: v[k] for k in WEIGHTINGS}
    fig.add_trace(
        go.Heatmap(z=graph.numpy(), x=list(names), y=list(names), zmin=-1, zmax=1,
                   colorscale="RdBu_r"), 1, 1,
    )  # fmt: skip
    for k in WEIGHTINGS:
        fig.add_trace(go.Bar(name=k, x=list(names), y=bars[k].numpy()), 1, 2)
    missing = [n for n, p in zip(names, mask[sample]) if not p]
    bad = [n for n, b in zip(names, corrupted[sample]) if b]
    title = (f"sample {sample}: {captions[sample] or '(no caption)'} | missing: {missing} | "
             f"corrupted: {bad}")  # fmt: skip
    if not present.any():
        title += " | no modality left"
    return fig.update_layout(height=360, barmode="group", title=title)
