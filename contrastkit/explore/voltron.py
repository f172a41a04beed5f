"""The Voltron notebook's explorer: masked reconstruction with and without the instruction.

``masked_preview`` masks a few clips at a given ratio and reconstructs them; ``draw`` shows, for
the notebook's two sliders, the masked input and three reconstructions (Voltron given the
instruction, Voltron without it, MAE) with their errors on the hidden patches.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import Tensor, nn

from .. import viz
from ..blocks import random_masking, unpatchify
from ..losses import masked_reconstruction_loss
from ..methods.voltron import Voltron
from ..utils import eval_mode

__all__ = ["masked_preview", "draw"]


@torch.no_grad()
def masked_preview(
    model: Voltron, video: Tensor, words: Tensor | None, ratio: float, seed: int = 0
) -> tuple[Tensor, Tensor, float]:
    """What the reconstruction knob shows: masked input and reconstruction at ``ratio``.

    Args:
        model: a trained ``Voltron`` (or MAE). video: ``(N, F, C, S, S)``. words: ``(N, L)``
            captions given to the encoder, or None. ratio: the masked share in ``[0, 1)``.
        seed: the mask's seed (the same mask for "with" and "without" caption).

    Returns:
        ``masked`` and ``recon`` clips ``(N, F, C, S, S)`` (hidden patches grey in ``masked``;
        visible patches copied into ``recon``) and the mean squared error on the hidden patches.
    """
    enc = model.encoder
    n, n_tokens = video.shape[0], enc.frames * enc.n_patches
    g = torch.Generator().manual_seed(seed)
    keep, mask = random_masking(n, n_tokens, ratio, generator=g, device=video.device)
    if not mask.any():
        mask[:, 0] = True  # ratio 0: still score one patch, so the error is defined
    target = enc.patch_inputs(video)
    words = words if (words is not None and model.language) else None
    with eval_mode(model):
        pred = model.reconstruct(enc.tokens(video, words, keep), keep, n_tokens)
    err = float(masked_reconstruction_loss(pred, target, mask))
    m = mask[..., None]
    grey = torch.full_like(target, 0.5)

    def clips(p: Tensor) -> Tensor:
        flat = p.reshape(n * enc.frames, enc.n_patches, -1)
        return unpatchify(flat, enc.patch, enc.channels).reshape(video.shape).clamp(0, 1)

    return clips(torch.where(m, grey, target)), clips(torch.where(m, pred, target)), err


def draw(
    ratio: float, start: int, *, model: Voltron, mae: nn.Module, video: Tensor, words: Tensor
) -> go.Figure:
    """Four clips from ``4 * start`` at mask ``ratio``: one row each of masked input, Voltron's
    reconstruction given the instruction, without it, and MAE's; the hidden-patch errors in the
    title.

    Args:
        ratio: the masked share. start: which group of four clips of ``video`` / ``words``.
        model: the trained Voltron. mae: the trained MAE (a ``Voltron`` with ``language=False``).
    """
    s = 4 * start
    video, words = video[s : s + 4], words[s : s + 4]
    masked, with_text, e_with = masked_preview(model, video, words, ratio, seed=0)
    _, without, e_without = masked_preview(model, video, None, ratio, seed=0)
    _, mae_rec, e_mae = masked_preview(mae, video, None, ratio, seed=0)
    rows = [r.transpose(0, 1).flatten(0, 1) for r in (masked, with_text, without, mae_rec)]
    return viz.image_grid(torch.cat(rows), n=32, ncol=8, title=(
        f"ratio {ratio:.2f} | hidden-patch MSE: Voltron with instruction {e_with:.4f}, "
        f"without {e_without:.4f}, MAE {e_mae:.4f}"))  # fmt: skip
