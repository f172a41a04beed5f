"""The CreamFL notebook's explorer: how much the server trusted each client, round by round.

``mean_weights`` averages a client's ``con_w`` aggregation weights over the rounds so far;
``draw`` shows them for the notebook's round slider, one column per modality.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..methods.creamfl import Round

__all__ = ["mean_weights", "draw"]


def mean_weights(history: Sequence[Round], modality: str) -> dict[int, float]:
    """Client index -> its mean ``con_w`` weight for ``modality`` over the rounds (what the
    notebook's bars and its slider show)."""
    out: dict[int, list[float]] = {}
    for rnd in history:
        if modality not in rnd.weights:
            continue
        for row, k in enumerate(rnd.clients[modality]):
            out.setdefault(k, []).append(float(rnd.weights[modality][row].mean()))
    return {k: sum(v) / len(v) for k, v in out.items()}


def draw(rounds: int, *, history: Sequence[Round], names: Sequence[str]) -> str:
    """HTML: each client's mean weight per modality over the first ``rounds`` rounds.

    Args:
        rounds: how many rounds to average. history: the :class:`Round` s of a run
            (``CreamFL.history``). names: a label per client index.
    """
    import pandas as pd

    hist = history[:rounds]
    table = pd.DataFrame({mod: mean_weights(hist, mod) for mod in ("image", "text")})
    return table.rename(index=lambda k: names[k]).round(3).to_html()
