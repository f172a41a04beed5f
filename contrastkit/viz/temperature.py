"""Moved: the temperature explorer now lives in :mod:`contrastkit.explore.wang_liu`.

This module keeps ``contrastkit.viz.temperature`` importable for code written before the move;
it warns once and re-exports the same objects. It is the one listed exception to the rule that
``viz`` never imports from a higher layer (``tests/test_architecture.py``, ``ALIASES``).
"""

from __future__ import annotations

import warnings

from ..explore.wang_liu import (  # noqa: F401
    EXPLORER_TITLE,
    TAU_GRID,
    effective_negatives_vs_tau,
    explorer_figure,
    explorer_readout,
    explorer_state,
    paper_figure,
    plane_figure,
    spheres_figure,
    sweep_figure,
    tau_slider_figure,
    update_explorer,
)

warnings.warn(
    "contrastkit.viz.temperature moved to contrastkit.explore.wang_liu",
    DeprecationWarning,
    stacklevel=2,
)
