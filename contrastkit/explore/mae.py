"""The MAE notebook's explorer: what a masked autoencoder sees and fills in at a mask ratio.

``masked_preview`` hides a share of some images' patches with a fixed seed and lets a trained
:class:`~contrastkit.methods.mae.MAE` reconstruct them; ``draw`` shows, for the notebook's ratio
control, the masked inputs and the reconstructions with the error on the hidden patches, next to
the linear-probe accuracy measured for MAEs pre-trained at each ratio (``PRECOMPUTED``, or the
notebook's own runs).
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from ..blocks import random_masking, unpatchify
from ..losses import masked_reconstruction_loss
from ..methods.mae import MAE
from ..utils import eval_mode

__all__ = ["PRECOMPUTED", "masked_preview", "draw"]

#: Linear-probe and fine-tuning accuracy of MAEs pre-trained at each mask ratio, measured once
#: (precomputed, not re-run): seed 0, the notebook's quick settings (``shapes`` at 16 px, 3,000
#: training images, a 2-block width-64 TinyViT, 400 Adam steps of 128, lr 1e-3, raw-pixel
#: target; probe on 3,000 labels, fine-tuning 150 steps). Raw pixels: 0.13; untrained: 0.17.
PRECOMPUTED: dict[str, dict[float, float]] = {
    "linear": {0.25: 0.163, 0.5: 0.207, 0.75: 0.194, 0.9: 0.163},
    "fine-tune": {0.25: 0.198, 0.5: 0.251, 0.75: 0.219, 0.9: 0.203},
}


def _to_pixels(pred: Tensor, target: Tensor, norm_pix: bool, eps: float = 1e-6) -> Tensor:
    """Predicted patches in pixel units (undo the per-patch standardisation with the truth's)."""
    if not norm_pix:
        return pred
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    return pred * (var + eps).sqrt() + mean


@torch.no_grad()
def masked_preview(
    model: MAE, x: Tensor, ratio: float, seed: int = 0
) -> tuple[Tensor, Tensor, float]:
    """Masked inputs and reconstructions of ``x`` at ``ratio``, with the hidden-patch error.

    Args:
        model: a trained :class:`MAE` (any training ratio). x: ``(N, C, S, S)`` images.
        ratio: the share of patches hidden here, in ``[0, 1)``.
        seed: the mask's seed (the same seed gives the same mask for every model).

    Returns:
        ``masked`` (hidden patches grey) and ``recon`` (visible patches copied from ``x``), both
        ``(N, C, S, S)`` in [0, 1], and the mean squared error on the hidden patches in pixels.
    """
    enc = model.encoder
    target = enc.patches(x)  # (N, P, C p p)
    n, p = target.shape[:2]
    g = torch.Generator().manual_seed(seed)
    keep, mask = random_masking(n, p, ratio, generator=g, device=x.device)
    if not mask.any():
        mask[:, 0] = True  # ratio 0: still score one patch, so the error is defined
    with eval_mode(model):
        pred = _to_pixels(model.reconstruct(x, keep), target, model.norm_pix)
    err = float(masked_reconstruction_loss(pred, target, mask))
    m = mask[..., None]

    def image(q: Tensor) -> Tensor:
        return unpatchify(q, enc.patch, enc.channels).clamp(0, 1)

    grey = torch.full_like(target, 0.5)
    return image(torch.where(m, grey, target)), image(torch.where(m, pred, target)), err


def _row(images: Tensor) -> Tensor:
    """``(N, C, S, S)`` -> one ``(S, N * (S + 1), C)`` strip with a 1-pixel white gap."""
    n, c, s, _ = images.shape
    pad = torch.ones(n, c, s, s + 1)
    pad[..., :s] = images.cpu()
    return pad.permute(2, 0, 3, 1).reshape(s, n * (s + 1), c)


def draw(
    ratio: float,
    *,
    models: dict[float, MAE],
    x: Tensor,
    probe: dict[float, float] | None = None,
    n: int = 8,
    seed: int = 0,
) -> go.Figure:
    """The explorer's figure at one mask ratio.

    Left: ``n`` masked images and their reconstruction by the MAE trained at ``ratio`` (or, when
    there is none, by the model trained at the nearest ratio, said in the title). Right: the
    linear-probe accuracy per pre-training ratio with ``ratio`` highlighted.

    Args:
        ratio: the mask ratio chosen by the control. models: trained MAEs by training ratio.
        x: images to show (the first ``n``). probe: accuracy by ratio (e.g. ``PRECOMPUTED``'s
            ``"linear"``), or None to leave the right panel out.
    """
    if not models:
        raise ValueError("models must hold at least one trained MAE")
    near = min(models, key=lambda r: abs(r - ratio))
    masked, recon, err = masked_preview(models[near], x[:n], ratio, seed=seed)
    strip = torch.cat([_row(masked), torch.ones(1, _row(masked).shape[1], 3), _row(recon)])
    cols = 2 if probe else 1
    fig = make_subplots(rows=1, cols=cols, column_widths=[0.65, 0.35][:cols])
    fig.add_trace(go.Image(z=(255 * strip.numpy()).astype("uint8")), row=1, col=1)
    if probe:
        rs = sorted(probe)
        fig.add_trace(
            go.Scatter(x=rs, y=[probe[r] for r in rs], mode="lines+markers", name="linear probe"),
            row=1,
            col=2,
        )
        if ratio in probe:
            fig.add_trace(
                go.Scatter(
                    x=[ratio],
                    y=[probe[ratio]],
                    mode="markers",
                    marker={"size": 14},
                    name=f"ratio {ratio:g}",
                ),
                row=1,
                col=2,
            )
        fig.update_xaxes(title_text="pre-training mask ratio", row=1, col=2)
        fig.update_yaxes(title_text="linear-probe accuracy", row=1, col=2)
    which = "" if near == ratio else f" (model trained at {near:g})"
    fig.update_layout(
        title=f"ratio {ratio:g}: masked (top) and reconstructed (bottom){which}; "
        f"hidden-patch MSE {err:.4f}",
        height=320,
        showlegend=False,
    )
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    return fig
