"""The HBI notebook's explorer: one matched pair's similarity and Banzhaf maps, per level.

``level_view`` gives the maps and their labels; ``draw`` turns the notebook's controls (which
test pair, which level, how many Monte Carlo coalitions) into the two heatmaps and the
estimate's distance to a 256-coalition reference.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from ..methods.hbi import HBI

__all__ = ["interaction_view", "level_view", "draw"]


def interaction_view(
    model: HBI, video: Tensor, text: Tensor, samples: int = 16, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """One matched pair's similarity map ``S (L, F)`` and Banzhaf map ``B (L, F)`` (real words
    only), with ``samples`` coalitions, in eval mode. Pure (seeded).

    Args:
        video: ``(F, C, H, W)`` one video. text: ``(L,)`` its caption's token ids.
    """
    sim, banzhaf = model.interaction_map(video[None], text[None], samples, seed)
    real = text != 0
    return sim[0][real].cpu(), banzhaf[0][real].cpu()


def _span(frames: list[int]) -> str:
    if frames == list(range(frames[0], frames[-1] + 1)) and len(frames) > 1:
        return f"f{frames[0]}-f{frames[-1]}"
    return ",".join(f"f{f}" for f in frames)


def level_view(
    model: HBI,
    video: Tensor,
    text: Tensor,
    level: int = 1,
    samples: int = 16,
    seed: int = 0,
    words: list[str] | None = None,
) -> dict:
    """One matched pair's maps at one level of the hierarchy, with labels. Pure (seeded).

    Args:
        video: ``(F, C, H, W)`` one video. text: ``(L,)`` its caption's token ids.
        level: 1 (words x frames) or 2 (phrases x events).
        words: the vocabulary (id -> word) for the labels; ``None``: the ids.

    Returns:
        ``{"sim", "banzhaf"}``: ``(rows, cols)`` maps over the real words / phrases and the
        frames / events; ``"rows"``, ``"cols"``: their labels (level 1: ``"red [p1]"`` and
        ``"f3 [e0]"`` name the phrase and event a token joins at level 2; level 2: a phrase's
        words, an event's frames); ``"word_group"``, ``"frame_group"``: each real word's and
        frame's level-2 group.
    """
    if level not in (1, 2):
        raise ValueError(f"level must be 1 or 2, got {level!r}")
    sim, banzhaf, _, _ = model.level_map(video[None], text[None], level, samples, seed)
    _, _, fa, wa = model.level_map(video[None], text[None], 2, 1, seed)
    real = text.cpu() != 0
    ids = text.cpu()[real].tolist()
    names = [words[k] if words is not None else str(k) for k in ids]
    wg, fg = wa[0].cpu()[real].tolist(), fa[0].cpu().tolist()
    if level == 1:
        rows = [f"{w} [p{g}]" for w, g in zip(names, wg, strict=True)]
        cols = [f"f{f} [e{g}]" for f, g in enumerate(fg)]
        keep = real
    else:
        keep = torch.tensor([g in wg for g in range(sim.shape[1])])
        rows = [
            " ".join(w for w, h in zip(names, wg, strict=True) if h == g)
            for g in range(sim.shape[1])
            if g in wg
        ]
        cols = [_span([f for f, h in enumerate(fg) if h == g]) for g in range(sim.shape[2])]
    return {
        "sim": sim[0].cpu()[keep],
        "banzhaf": banzhaf[0].cpu()[keep],
        "rows": rows,
        "cols": cols,
        "word_group": wg,
        "frame_group": fg,
    }


def draw(
    pair: int,
    samples: int,
    level: int,
    *,
    model: HBI,
    video: Tensor,
    text: Tensor,
    words: list[str] | None = None,
    seed: int = 0,
) -> tuple[go.Figure, str]:
    """The explorer's view of test pair ``pair``: the similarity map S and the Banzhaf map B
    (``samples`` coalitions) side by side, and B's largest distance to a 256-coalition estimate.

    Args:
        pair: row of ``video`` / ``text``. samples: Monte Carlo coalitions. level: 1 or 2.
        model, video, text, words, seed: the trained model, the test pairs, the vocabulary and
            the coalitions' seed (the reference uses ``seed + 1``).
    """
    view = level_view(model, video[pair], text[pair], level, samples, seed, words)
    ref = level_view(model, video[pair], text[pair], level, 256, seed + 1, words)["banzhaf"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["similarity S", "Banzhaf interaction B"])
    for col, m in ((1, view["sim"]), (2, view["banzhaf"])):
        fig.add_trace(go.Heatmap(z=m.numpy(), x=view["cols"], y=view["rows"], colorscale="RdBu",
                                 zmid=0, showscale=col == 2), 1, col)  # fmt: skip
    fig.update_layout(height=400)
    fig.update_yaxes(autorange="reversed")
    return fig, f"max |B - B(256 samples)| = {float((view['banzhaf'] - ref).abs().max()):.4f}"
