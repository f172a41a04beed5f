"""DeCLIP notebook: what the EDA text views of a caption look like (the explorer's function)."""

from __future__ import annotations

import html

import torch

from ..data.captions import decode, tokenize
from ..methods.declip import eda

__all__ = ["text_views", "views_html"]


def text_views(
    caption: str, drop: float = 0.2, swap: float = 0.2, n: int = 4, seed: int = 0
) -> list[str]:
    """``n`` EDA views of one caption, as strings (``methods.declip.eda`` on its tokens).

    Raises:
        ValueError: ``drop`` or ``swap`` outside [0, 1].
    """
    g = torch.Generator().manual_seed(seed)
    tokens = tokenize([caption] * n)
    return decode(eda(tokens, drop, swap, generator=g))


def views_html(caption: str, drop: float, swap: float, n: int = 4, seed: int = 0) -> str:
    """The explorer's view: the ``n`` views of ``caption`` as HTML lines."""
    views = text_views(caption, drop, swap, n=n, seed=seed)
    return "<br>".join(f"view {i + 1}: <code>{html.escape(v)}</code>" for i, v in enumerate(views))
