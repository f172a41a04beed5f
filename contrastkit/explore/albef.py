"""The ALBEF notebook's explorer: the image -> caption targets as the distillation weight moves.

``soft_targets`` mixes the one-hot ITC target with the momentum model's softmax; ``draw`` shows
them for a few training pairs, with how much target mass a mismatched pair keeps on its own
(wrong) caption.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor

__all__ = ["soft_targets", "draw"]


def soft_targets(sims: Tensor, alpha: float, temperature: float) -> Tensor:
    """The i2t target rows ``alpha softmax(sims / t) + (1 - alpha) I`` for a cosine matrix."""
    eye = torch.eye(sims.shape[0], dtype=sims.dtype)
    return alpha * (sims / temperature).softmax(dim=1) + (1 - alpha) * eye


def draw(
    alpha: float, *, sims: Tensor, temperature: float, labels: list[str], matched: Tensor
) -> go.Figure:
    """The soft targets at ``alpha`` as a heatmap (rows: images, columns: captions).

    Args:
        alpha: the distillation weight. sims: ``(n, n)`` momentum-model image-caption cosines.
        temperature: the softmax's. labels: a name per pair. matched: ``(n,)`` bool, whether
            each pair's caption is its own (the title reads the mismatched ones' diagonal).
    """
    t = soft_targets(sims, alpha, temperature)
    diag = t.diagonal()[~matched.cpu()]
    fig = go.Figure(go.Heatmap(z=t.numpy(), x=labels, y=labels, colorscale="Blues", zmin=0,
                               zmax=1))  # fmt: skip
    fig.update_layout(
        height=350,
        title=f"alpha={alpha:.2f}: mean target on the diagonal of "
        f"mismatched pairs {float(diag.mean()) if len(diag) else float('nan'):.2f}",
    )
    return fig
