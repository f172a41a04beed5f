"""UNIMO notebook: how one image scores its true caption against the rewrites that swap a fact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from torch import Tensor

from ..data.captions import VOCAB, decode, tokenize
from ..methods.clip import CLIP

__all__ = ["caption_figure", "caption_scores"]


def caption_scores(model: CLIP, image: Tensor, candidates: list[str], length: int = 16) -> Tensor:
    """Cosine of one image ``(C, H, W)`` with each candidate caption: the pure function behind
    the notebook's caption browser."""
    return model.similarity(image[None], tokenize(candidates, length, VOCAB))[0]


def caption_figure(
    models: Mapping[str, CLIP],
    x: Tensor,
    texts: Sequence[str],
    negatives: Tensor,
    length: int,
    image: int,
    model: str,
) -> go.Figure:
    """The explorer's view: cosines of test ``image`` with its true caption (green, first) and
    its one-word rewrites (red) under ``models[model]``; the title counts the rewrites it beats.

    Args:
        models: trained models by name. x: ``(N, C, H, W)`` test images. texts: their captions.
        negatives: ``(N, K, L)`` rewritten captions. length: tokens per caption.
        image: which test image. model: which model.
    """
    cands = [texts[image]] + decode(negatives[image])
    s = caption_scores(models[model], x[image], cands, length)
    fig = go.Figure(
        go.Bar(x=cands, y=s.tolist(), marker_color=["seagreen"] + ["indianred"] * (len(cands) - 1))
    )
    return fig.update_layout(
        height=320,
        yaxis_title="cosine",
        xaxis_tickangle=-20,
        title=f"{model}: true caption wins {int((s[1:] < s[0]).sum())} of {len(cands) - 1}",
    )
