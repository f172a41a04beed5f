"""The TCL notebook's explorer: which terms the objective has, and what each model measured.

Two toggles (IMC, LMI) pick one of the four objectives; ``draw`` names it and shows the numbers
of the model trained with it (quick mode trains only ITC and full TCL).
"""

from __future__ import annotations

__all__ = ["NAMES", "loss_terms", "draw"]

#: The objective each pair of toggles (IMC on, LMI on) selects.
NAMES = {(False, False): "ITC", (True, True): "TCL", (True, False): "CMA + IMC",
         (False, True): "CMA + LMI"}  # fmt: skip


def loss_terms(w_imc: float, w_lmi: float) -> str:
    """The objective in words for given weights, e.g. ``"CMA + 1 IMC + 0.5 LMI"``."""
    parts = ["CMA"] + ([f"{w_imc:g} IMC"] if w_imc else []) + ([f"{w_lmi:g} LMI"] if w_lmi else [])
    return " + ".join(parts) + ("  (plain ITC)" if len(parts) == 1 else "")


def draw(
    imc: bool, lmi: bool, *, rows: dict[str, dict[str, float]], weights: tuple[float, float]
) -> str:
    """HTML: the objective the toggles select and the numbers of its trained model.

    Args:
        imc, lmi: the toggles. rows: model name (see :data:`NAMES`) -> its measured numbers.
        weights: ``(w_imc, w_lmi)`` of the full objective.
    """
    name = NAMES[bool(imc), bool(lmi)]
    w = (weights[0] * bool(imc), weights[1] * bool(lmi))
    numbers = (", ".join(f"{k} {v:.3f}" for k, v in rows[name].items()) if name in rows
               else "not trained in quick mode (set QUICK = False)")  # fmt: skip
    return f"<b>objective:</b> {loss_terms(*w)}<br>{numbers}"
