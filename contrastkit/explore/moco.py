"""The ``moco`` notebook: how stale a queue of keys is, as an explorer over K and m.

:func:`explorer_state` computes, in closed form, how much of today's key encoder is left in
each queued batch; :func:`draw` shows it for ``viz.explorer``. The measured side of the same
question (how much an old key still agrees with today's) is
:func:`contrastkit.methods.moco.key_consistency`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["draw", "explorer_state", "staleness_title"]


def explorer_state(
    queue_size: int,
    batch_size: int,
    momentum: float,
    measured: Mapping[tuple[int, float], float] | None = None,
) -> dict:
    """How stale a queue is, for the notebook's explorer (pure, so tests call it too).

    The queue holds ``ceil(K / B)`` batches of keys; the batch written ``a`` steps ago came from
    a key encoder of which only a fraction ``m ** a`` is left in today's (every EMA step keeps
    ``m`` of the old weights). ``K = 0`` is the in-batch ablation: no queue, the negatives are
    the other ``B - 1`` keys of this step (age 0, nothing stale).

    Args:
        queue_size: K (0: no queue). batch_size: B (keys written per step). momentum: m in
            [0, 1].
        measured: optional ``(queue size, momentum) -> kNN accuracy`` of trained runs, looked
            up for ``(K, m)``.

    Returns:
        ``{"queue_size", "negatives": K, or B - 1 without a queue, "batches", "age":
        [1..batches], "kept": [m ** age], "oldest": batches, "oldest_kept": m ** batches (1 for
        no queue), "horizon": 1 / (1 - m) steps (inf for m = 1), "knn": the measured accuracy
        for ``(K, m)`` or None}``.

    Raises:
        ValueError: for K below 0, B below 1 or m outside [0, 1].
    """
    if queue_size < 0 or batch_size < 1:
        raise ValueError(
            f"queue_size must be >= 0 and batch_size >= 1, got {queue_size}, {batch_size}"
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    batches = math.ceil(queue_size / batch_size)
    age = list(range(1, batches + 1))
    kept = [momentum**a for a in age]
    return {
        "queue_size": queue_size,
        "negatives": queue_size or batch_size - 1,
        "batches": batches,
        "age": age,
        "kept": kept,
        "oldest": batches,
        "oldest_kept": momentum**batches,
        "horizon": math.inf if momentum == 1.0 else 1.0 / (1.0 - momentum),
        "knn": None if measured is None else measured.get((queue_size, momentum)),
    }


def staleness_title(state: Mapping) -> str:
    """One line on the queue of :func:`explorer_state`: its batches and how stale the oldest is."""
    found = "" if state["knn"] is None else f" · trained above: kNN {state['knn']:.3f}"
    if state["queue_size"] == 0:
        return f"no queue: {state['negatives']} in-batch negatives, all from this step{found}"
    return (
        f"{state['negatives']} negatives in {state['batches']} batches; the oldest keeps "
        f"{state['oldest_kept']:.3f} of today's key encoder (horizon {state['horizon']:.0f} "
        f"steps){found}"
    )


def draw(
    queue_size: int,
    momentum: float,
    batch_size: int,
    measured: Mapping[tuple[int, float], float] | None = None,
):
    """The explorer's figure: ``m ** age`` of every queued batch, titled by :func:`staleness_title`.

    Example:
        >>> viz.explorer(functools.partial(draw, batch_size=32),
        ...              queue_size=widgets.SelectionSlider(options=[0, 256, 1024]),
        ...              momentum=widgets.SelectionSlider(options=[0.9, 0.99]))
    """
    import plotly.graph_objects as go

    state = explorer_state(queue_size, batch_size, momentum, measured)
    fig = go.Figure(go.Bar(x=state["age"], y=state["kept"], marker_color="steelblue"))
    fig.update_layout(
        height=380,
        title=staleness_title(state),
        yaxis={"range": [0, 1.05], "title": "m ** age"},
        xaxis={"title": "batch age in the queue (steps ago)"},
    )
    return fig
