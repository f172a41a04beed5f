"""The Theme Transformer notebook's views: piano rolls of sampled songs, and the sampling
temperature explorer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..methods.theme_transformer import ThemeTransformer, occurrences, recurrences

__all__ = ["piano_roll", "sample_view", "draw"]


def piano_roll(
    tokens: Tensor,
    highlight: Tensor,
    title: str,
    names: Sequence[str] = ("other notes", "theme"),
) -> go.Figure:
    """One band per song ``(n, T)`` pitches: pitch on y, time on x; ``highlight (n, T)`` notes
    drawn in orange."""
    fig = go.Figure()
    for flag, colour, name in ((False, "#9aa5b1", names[0]), (True, "#ff7f0e", names[1])):
        xs, ys = [], []
        for i, (row, mark) in enumerate(zip(tokens.tolist(), highlight.tolist(), strict=True)):
            for t, (p, m) in enumerate(zip(row, mark, strict=True)):
                if m == flag:
                    xs.append(t)
                    ys.append(p + 30 * i)
        marker = {"symbol": "line-ew-open", "size": 10, "line_width": 4, "color": colour}
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker=marker, name=name))
    fig.update_layout(
        height=120 + 90 * len(tokens),
        title=title,
        xaxis_title="time (notes)",
        yaxis={"title": "pitch (one song per band)", "showticklabels": False},
    )
    return fig


def sample_view(
    model: ThemeTransformer,
    theme: Tensor,
    prompt: Tensor,
    gate: Tensor,
    temperature: float,
    seed: int = 0,
    max_distance: int = 2,
) -> tuple[Tensor, Tensor, float]:
    """Songs sampled at ``temperature``, the notes that replay the theme, and the share of
    songs whose continuation (after the prompt) holds at least two occurrences (a fixed seed)."""
    g = torch.Generator().manual_seed(seed)
    songs = model.generate(theme, prompt, gate, temperature=temperature, generator=g).cpu()
    mask = occurrences(songs, theme.cpu(), max_distance)
    rest = recurrences(songs[:, prompt.shape[1] :], theme.cpu(), max_distance)
    return songs, mask, float((rest >= 2).float().mean())


def draw(
    temperature: float,
    *,
    generators: Mapping[str, ThemeTransformer],
    theme: Tensor,
    prompt: Tensor,
    gate: Tensor,
    seed: int = 0,
) -> tuple[go.Figure, ...]:
    """For each generator, the first song sampled at ``temperature`` as a piano roll, titled
    with the share of the ``len(theme)`` songs that replay the theme at least twice."""
    figs = []
    for name, model in generators.items():
        out, mask, rate = sample_view(model, theme, prompt, gate, temperature, seed=seed)
        title = (
            f"{name}, T = {temperature:.1f}: {rate:.2f} of {len(theme)} songs with >= 2 recurrences"
        )
        figs.append(piano_roll(out[:1], mask[:1], title))
    return tuple(figs)
