"""The Hydra notebook's explorer: the embedding seen through one class pair's gate.

``pair_view`` computes what is drawn for a pair (the gated points in the top two principal
directions of the pair's points, the mean gated cosine, the open dimensions); ``draw`` turns it
into a figure for the two classes picked by name.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import Tensor

from ..viz import PALETTE

__all__ = ["draw", "pair_view"]


def pair_view(u: Tensor, y: Tensor, gate: Tensor, a: int, b: int) -> dict:
    """What the explorer draws for the class pair ``(a, b)``: the gated subspace in 2-D.

    The unit embeddings are multiplied by the pair's gate (``gate * u``, the vectors whose dot
    products the loss uses), then projected on the top two principal directions of the gated
    points of classes ``a`` and ``b``.

    Args:
        u: ``(N, D)`` unit embeddings (``Hydra.project``). y: ``(N,)`` labels.
        gate: ``(D,)`` the pair's gate (``gate_table()[a, b]``). a, b: the two classes.

    Returns:
        ``xy`` ``(N, 2)`` coordinates; ``group`` ``(N,)`` 0 for class a, 1 for class b, 2 for
        the rest; ``cos_ab`` the mean gated cosine between a's and b's points; ``open`` the
        number of dimensions with gate > 0.5.
    """
    if u.ndim != 2 or gate.shape != (u.shape[1],):
        raise ValueError(
            f"gate must have shape ({u.shape[1]},) to match u, got {tuple(gate.shape)}"
        )
    u, y, gate = u.detach().float().cpu(), y.detach().cpu(), gate.detach().float().cpu()
    gz = u * gate  # (N, D)
    in_a, in_b = y == a, y == b
    sel = gz[in_a | in_b]
    if sel.shape[0] < 2:
        raise ValueError(f"classes a={a} and b={b} need at least two points between them")
    centre = sel.mean(dim=0)
    _, _, vt = torch.linalg.svd(sel - centre, full_matrices=False)
    xy = (gz - centre) @ vt[:2].T  # (N, 2)
    group = torch.full((u.shape[0],), 2, dtype=torch.long)
    group[in_b], group[in_a] = 1, 0  # a wins when a == b
    ga, gb = F.normalize(gz[in_a], dim=1), F.normalize(gz[in_b], dim=1)
    cos_ab = float((ga @ gb.T).mean()) if len(ga) and len(gb) else float("nan")
    return {"xy": xy, "group": group, "cos_ab": cos_ab, "open": int((gate > 0.5).sum())}


def draw(u: Tensor, y: Tensor, table: Tensor, classes: list[str], a: str, b: str) -> go.Figure:
    """The gated subspace of classes ``a`` and ``b`` (names from ``classes``) in 2-D.

    Args:
        u: ``(N, D)`` unit embeddings (``Hydra.project``). y: ``(N,)`` labels.
        table: ``(C, C, D)`` the gate of every class pair (``Hydra.gate_table()``).
        classes: the class names. a, b: the two classes' names.
    """
    ia, ib = classes.index(a), classes.index(b)
    v = pair_view(u, y, table[ia, ib], ia, ib)
    fig = go.Figure()
    colours = ("#cccccc", PALETTE[0], PALETTE[1])  # the rest, class a, class b
    for name, colour, group in zip(("other classes", "class a", "class b"), colours, (2, 0, 1)):
        sel = v["group"] == group
        fig.add_scatter(x=v["xy"][sel, 0].numpy(), y=v["xy"][sel, 1].numpy(), mode="markers",
                        name=name, marker={"color": colour, "size": 6})  # fmt: skip
    return fig.update_layout(
        height=450, xaxis_title="PC 1 of the gated pair", yaxis_title="PC 2",
        title=f"{a} + {b}: {v['open']} open dimensions, mean gated cosine {v['cos_ab']:.2f}",
    )  # fmt: skip
