"""The Mod-X notebook's explorer: forgetting and spatial disorder, phase by phase.

``phase_view`` gives one row per method for a phase of the stream (R@1 on domain 0, on the
current domain, over the domains seen, and how far domain 0's geometry has rotated); ``draw``
shows it as a table for the notebook's phase slider.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["phase_view", "draw"]


def phase_view(r1: dict[str, Tensor], rotation: dict[str, list[float]], phase: int) -> list[dict]:
    """One row per method for the notebook's phase slider.

    Args:
        r1: method name -> ``(P, D)`` R@1 matrix (:func:`contrastkit.methods.modx.r1_matrix`).
        rotation: method name -> intra-modal rotation of domain 0's geometry after each phase
            (degrees, phase 0 first: 0).
        phase: which phase to show (0..P-1).

    Returns:
        ``[{"method", "phase", "R@1 domain 0", "R@1 current", "mean R@1 seen", "rotation"}]``.
    """
    rows = []
    for name, m in r1.items():
        if not 0 <= phase < m.shape[0]:
            raise ValueError(f"phase must be in 0..{m.shape[0] - 1}, got {phase}")
        rows.append(
            {
                "method": name,
                "phase": phase,
                "R@1 domain 0": float(m[phase, 0]),
                "R@1 current": float(m[phase, phase]),
                "mean R@1 seen": float(m[phase, : phase + 1].mean()),
                "rotation": float(rotation[name][phase]),
            }
        )
    return rows


def draw(phase: int, *, r1: dict[str, Tensor], rotation: dict[str, list[float]]) -> str:
    """HTML: :func:`phase_view`'s rows at ``phase`` as a table (numbers to 3 decimals)."""
    import pandas as pd

    return pd.DataFrame(phase_view(r1, rotation, phase)).round(3).to_html(index=False)
