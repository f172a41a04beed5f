"""The Hallucinator notebook's explorer: where the generator puts its positives for a ratio lam.

``fixed_pairs`` embeds two fixed views of some images (queries, keys, hallucinations) without
touching the training's random stream; ``explorer_state`` computes, for one extrapolation ratio,
the queries, keys, extrapolations and hallucinations in a fixed 2-D basis and their mean cosines
to the key; ``draw`` makes the figure the notebook's slider redraws.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import Tensor

from ..methods.hallucinator import Hallucinator, PositiveGenerator, extrapolate, hardness
from ..utils import eval_mode
from ..viz import PALETTE

__all__ = ["STYLES", "draw", "explorer_state", "fixed_pairs"]

#: How each kind of point is drawn: label and colour.
STYLES = {
    "k": ("key k", "grey"),
    "q": ("query q", PALETTE[0]),
    "g": ("extrapolation g", PALETTE[1]),
    "h": ("hallucination h", PALETTE[3]),
}


@torch.no_grad()
def fixed_pairs(model: Hallucinator, x: Tensor, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """``(q, k, h)`` ``(2N, D)`` of two views of ``x`` drawn with ``seed``, in eval mode.

    The views are drawn inside ``torch.random.fork_rng``: the caller's random stream (e.g. the
    training's, when this runs as ``fit``'s ``eval_fn``) is left as it was.
    """
    with torch.random.fork_rng(devices=[]), eval_mode(model):
        torch.manual_seed(seed)
        q, k, h, _ = model.pairs(x)
    return q, k, h


@torch.no_grad()
def explorer_state(
    generator: PositiveGenerator, q: Tensor, k: Tensor, lam: float, basis: Tensor | None = None
) -> dict:
    """What the notebook's ratio explorer draws for one ``lam`` (pure, so tests call it too).

    Args:
        generator: a (trained) ``PositiveGenerator``; run in eval mode here, its mode restored.
        q, k: ``(N, D)`` queries and their keys. lam: the extrapolation ratio to show.
        basis: ``(D, 2)`` orthonormal directions to draw in; None: the top two principal
            directions of the normalised ``[q; k]`` (pass the same basis for every ``lam`` so
            that only the hallucinations move).

    Returns:
        ``{"q", "k", "g", "h": (N, 2) arrays of the normalised vectors in the basis, "basis",
        "cos": hardness(q, k, h) plus "cos_gk" (the extrapolation before the MLP)}``.
    """
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    with eval_mode(generator):
        h = generator(q, k, lam)
    qn, kn = F.normalize(q.float(), dim=1), F.normalize(k.float(), dim=1)
    g = F.normalize(extrapolate(qn, kn, lam), dim=1)
    if basis is None:
        both = torch.cat([qn, kn])
        basis = torch.linalg.svd(both - both.mean(0), full_matrices=False).Vh[:2].T  # (D, 2)
    cos = hardness(q, k, h)
    cos["cos_gk"] = float((g * kn).sum(1).mean())
    points = {
        name: (F.normalize(t.float(), dim=1) @ basis).numpy()
        for name, t in (("q", qn), ("k", kn), ("g", g), ("h", h))
    }
    return {**points, "basis": basis, "cos": cos}


def draw(
    generator: PositiveGenerator, q: Tensor, k: Tensor, basis: Tensor, lam: float
) -> go.Figure:
    """The four kinds of points of :func:`explorer_state` at ``lam``, cosines in the title."""
    s = explorer_state(generator, q, k, lam, basis=basis)
    fig = go.Figure()
    for key, (label, colour) in STYLES.items():
        fig.add_scatter(x=s[key][:, 0], y=s[key][:, 1], mode="markers", name=label,
                        marker={"color": colour, "size": 7})  # fmt: skip
    c = s["cos"]
    return fig.update_layout(
        height=450, xaxis_title="PC 1", yaxis_title="PC 2",
        title=f"lambda={lam:.2f}: cos(q,k)={c['cos_qk']:.3f}, cos(g,k)={c['cos_gk']:.3f}, "
        f"cos(h,k)={c['cos_hk']:.3f}",
    )  # fmt: skip
