"""The ``swav_dino`` notebook: collapse indicators while training, and the centring/sharpening knob.

:func:`indicators` measures a trained or training ``SwAVDINO`` on fixed images: how spread its
targets over prototypes are (per-image entropy, entropy of the mean, their difference: the
information the targets carry about the image) and the effective rank of the uncentred targets.
:func:`dino_grid` trains DINO over a grid of centring strengths and teacher temperatures and
returns those indicators over training; :data:`PRECOMPUTED` is one such grid (seed 0, the
notebook's quick settings), so the notebook's knob answers at once. :func:`grid_state` and
:func:`draw` are what the knob shows for one cell of a grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..data.base import ImageData
from ..methods.swav_dino import SwAVDINO, prototype_entropies, target_rank
from ..metrics import knn_accuracy
from ..utils import eval_mode

__all__ = ["INDICATORS", "PRECOMPUTED", "dino_grid", "draw", "grid_state", "indicators"]

#: The indicators: key -> what the figures call it.
INDICATORS = {
    "entropy": "entropy per image (nats)",
    "marginal_entropy": "entropy of the mean target (nats)",
    "information": "information = marginal - per-image entropy (nats)",
    "rank": "effective rank of the targets",
}


@torch.no_grad()
def indicators(method: SwAVDINO, x: Tensor) -> dict[str, float]:
    """The targets' entropies and effective rank on images ``x`` (eval mode, no augmentation).

    Returns ``prototype_entropies(p)`` plus ``"rank": target_rank(p)``, ``p`` the targets
    (DINO: the teacher's centred, sharpened distributions; SwAV: the Sinkhorn codes).
    """
    with eval_mode(method):
        p = method.distributions(x).cpu()
    return {**prototype_entropies(p), "rank": target_rank(p)}


def dino_grid(
    train: ImageData,
    test: ImageData,
    centrings: Sequence[float] = (0.0, 0.5, 1.0),
    teacher_temperatures: Sequence[float] = (0.04, 0.07, 0.1),
    steps: int = 120,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    **method_kwargs,
) -> dict:
    """Train DINO for every (centring, teacher temperature) and record the indicators.

    Args:
        train, test: labelled images; the indicators use ``test.x[:512]``, kNN both sets.
        centrings: strengths of centring (0 = off, 1 = DINO).
        teacher_temperatures: ``t_t`` values (the student's is 0.1: ``t_t = 0.1`` is no
            sharpening).
        steps, batch_size, lr, seed, device: as for :func:`contrastkit.fit`.
        **method_kwargs: more ``SwAVDINO`` arguments (``n_local``, ``momentum``, ...).

    Returns:
        ``{"centrings": [...], "teacher_temperatures": [...], "log_k": log K, "runs":
        {"<centring>|<t_t>": {"step": [...], <indicator>: [...], "knn": float}}}`` (plain
        Python values, so the grid can be stored as JSON or as :data:`PRECOMPUTED`).
    """
    from ..models import SmallConvNet
    from ..train import fit
    from ..utils import seed_everything

    probe = test.x[:512]
    runs = {}
    for c in centrings:
        for t in teacher_temperatures:
            seed_everything(seed)
            m = SwAVDINO(
                SmallConvNet(), variant="dino", centring=c, teacher_temperature=t, **method_kwargs
            )
            start = {"step": 0, **indicators(m.to(device), probe.to(device))}
            hist = fit(
                m, train.x, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
                eval_fn=lambda mm: indicators(mm, probe.to(device)),
                eval_every=max(1, steps // 6), progress=False,
            )  # fmt: skip
            evals = [start] + hist.evals
            run = {k: [float(e[k]) for e in evals] for k in ("step", *INDICATORS)}
            from ..evaluation import embed

            run["knn"] = knn_accuracy(embed(m, train.x), train.y, embed(m, test.x), test.y, k=20)
            runs[f"{c:g}|{t:g}"] = run
    k = int(m.student.prototypes.k)
    return {
        "centrings": [float(c) for c in centrings],
        "teacher_temperatures": [float(t) for t in teacher_temperatures],
        "log_k": math.log(k),
        "runs": runs,
    }


def grid_state(grid: Mapping, centring: float, teacher_temperature: float) -> dict:
    """What the knob shows for one cell of a grid (pure, so tests call it too).

    Returns:
        ``{"run": that cell's run, "final": {indicator: last value}, "verdict": "healthy",
        "collapsed to one prototype" or "collapsed to uniform", "heat": (rows = centrings,
        cols = temperatures) final information of every cell}``.

    Raises:
        KeyError: a (centring, temperature) pair that is not in the grid.
    """
    key = f"{centring:g}|{teacher_temperature:g}"
    if key not in grid["runs"]:
        raise KeyError(
            f"no run for centring={centring:g}, teacher_temperature={teacher_temperature:g}; "
            f"grid: centrings {grid['centrings']}, temperatures {grid['teacher_temperatures']}"
        )
    run = grid["runs"][key]
    final = {k: float(run[k][-1]) for k in INDICATORS}
    log_k = float(grid["log_k"])
    if final["information"] >= 0.25 * log_k:
        verdict = "healthy"
    elif final["entropy"] >= 0.5 * log_k:
        verdict = "collapsed to uniform"
    else:
        verdict = "collapsed to one prototype" if final["marginal_entropy"] < 0.5 * log_k else (
            "collapsed to a few prototypes")  # fmt: skip
    heat = [
        [
            float(grid["runs"][f"{c:g}|{t:g}"]["information"][-1])
            for t in grid["teacher_temperatures"]
        ]
        for c in grid["centrings"]
    ]
    return {"run": run, "final": final, "verdict": verdict, "heat": heat, "knn": run.get("knn")}


def draw(centring: float, teacher_temperature: float, grid: Mapping | None = None):
    """The knob's two figures for one cell: ``(indicator curves, heat map of the grid)``.

    Example:
        >>> viz.explorer(functools.partial(draw, grid=PRECOMPUTED),
        ...              centring=viz.dropdown("centring", [0.0, 0.5, 1.0], 1.0),
        ...              teacher_temperature=viz.dropdown("t_t", [0.04, 0.07, 0.1], 0.04))
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    grid = PRECOMPUTED if grid is None else grid
    s = grid_state(grid, centring, teacher_temperature)
    run, log_k = s["run"], float(grid["log_k"])
    curves = make_subplots(rows=1, cols=2, subplot_titles=("entropies (nats)", "effective rank"))
    for name in ("entropy", "marginal_entropy", "information"):
        curves.add_scatter(x=run["step"], y=run[name], name=INDICATORS[name], row=1, col=1)
    curves.add_scatter(
        x=[run["step"][0], run["step"][-1]], y=[log_k] * 2, name="log K (uniform)",
        line={"dash": "dot", "color": "grey"}, row=1, col=1,
    )  # fmt: skip
    curves.add_scatter(x=run["step"], y=run["rank"], name=INDICATORS["rank"], row=1, col=2)
    knn = "" if s["knn"] is None else f", kNN {s['knn']:.2f}"
    curves.update_layout(
        height=340,
        title=f"centring {centring:g}, teacher temperature {teacher_temperature:g}: "
        f"{s['verdict']} (information {s['final']['information']:.2f} nats{knn})",
    )
    heat = go.Figure(
        go.Heatmap(
            z=s["heat"], x=[f"{t:g}" for t in grid["teacher_temperatures"]],
            y=[f"{c:g}" for c in grid["centrings"]], colorscale="Viridis", zmin=0, zmax=log_k,
            colorbar={"title": "information"},
        )
    )  # fmt: skip
    heat.add_scatter(
        x=[f"{teacher_temperature:g}"], y=[f"{centring:g}"], mode="markers",
        marker={"symbol": "square-open", "size": 40, "color": "red"}, showlegend=False,
    )  # fmt: skip
    heat.update_layout(
        height=320, xaxis_title="teacher temperature (student: 0.1)",
        yaxis_title="centring strength", title="final information over the precomputed grid",
    )  # fmt: skip
    return curves, heat


#: A precomputed grid (``dino_grid`` on seed 0 with the notebook's quick settings: 3,000
#: ``shapes`` images at 16 px, 120 steps of 128, ``n_local=0, momentum=0.95``, lr 3e-3).
PRECOMPUTED: dict = {
    "centrings": [0.0, 0.5, 1.0],
    "log_k": 3.465736,
    "runs": {
        "0.5|0.04": {
            "entropy": [0.697, 2.129, 1.094, 0.646, 0.535, 0.476, 0.444],
            "information": [0.0, 0.017, 0.564, 1.12, 1.223, 1.293, 1.365],
            "knn": 0.268,
            "marginal_entropy": [0.697, 2.146, 1.657, 1.766, 1.757, 1.77, 1.809],
            "rank": [1.048, 2.513, 4.746, 6.022, 6.171, 6.339, 6.542],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "0.5|0.07": {
            "entropy": [1.923, 3.292, 3.363, 3.298, 3.227, 3.119, 2.965],
            "information": [0.0, 0.003, 0.038, 0.138, 0.209, 0.295, 0.402],
            "knn": 0.22,
            "marginal_entropy": [1.923, 3.294, 3.4, 3.436, 3.435, 3.414, 3.367],
            "rank": [1.121, 2.315, 6.437, 9.412, 9.014, 8.467, 7.859],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "0.5|0.1": {
            "entropy": [2.615, 3.405, 3.452, 3.459, 3.462, 3.463, 3.464],
            "information": [0.0, 0.001, 0.005, 0.006, 0.004, 0.002, 0.001],
            "knn": 0.152,
            "marginal_entropy": [2.615, 3.406, 3.457, 3.465, 3.466, 3.466, 3.466],
            "rank": [1.163, 1.859, 3.808, 4.245, 3.546, 3.08, 2.751],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "0|0.04": {
            "entropy": [0.697, 0.165, 0.084, 0.003, 0.0, 0.0, 0.0],
            "information": [0.0, 0.002, 0.031, 0.0, 0.0, 0.0, 0.0],
            "knn": 0.189,
            "marginal_entropy": [0.697, 0.167, 0.116, 0.003, 0.0, 0.0, 0.0],
            "rank": [1.048, 1.063, 1.21, 1.006, 1.0, 1.0, 1.0],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "0|0.07": {
            "entropy": [1.923, 2.628, 1.404, 0.675, 0.262, 0.078, 0.014],
            "information": [0.0, 0.002, 0.021, 0.054, 0.028, 0.008, 0.001],
            "knn": 0.209,
            "marginal_entropy": [1.923, 2.631, 1.425, 0.729, 0.29, 0.086, 0.015],
            "rank": [1.121, 1.712, 1.802, 1.694, 1.29, 1.083, 1.014],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "0|0.1": {
            "entropy": [2.615, 3.151, 3.148, 3.169, 3.174, 3.175, 3.175],
            "information": [0.0, 0.001, 0.004, 0.004, 0.003, 0.002, 0.001],
            "knn": 0.157,
            "marginal_entropy": [2.615, 3.152, 3.152, 3.173, 3.177, 3.177, 3.177],
            "rank": [1.163, 1.629, 2.781, 3.057, 2.622, 2.336, 2.137],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "1|0.04": {
            "entropy": [0.697, 2.51, 1.747, 0.685, 0.854, 0.903, 0.644],
            "information": [0.0, 0.019, 0.459, 1.0, 1.288, 1.565, 1.503],
            "knn": 0.237,
            "marginal_entropy": [0.697, 2.529, 2.206, 1.685, 2.142, 2.468, 2.147],
            "rank": [1.048, 3.022, 6.085, 6.006, 9.017, 10.766, 9.222],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "1|0.07": {
            "entropy": [1.923, 3.271, 3.311, 3.273, 3.204, 3.088, 2.928],
            "information": [0.0, 0.003, 0.052, 0.174, 0.243, 0.336, 0.449],
            "knn": 0.22,
            "marginal_entropy": [1.923, 3.274, 3.364, 3.446, 3.447, 3.425, 3.377],
            "rank": [1.121, 2.377, 6.445, 9.93, 9.521, 8.918, 8.278],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
        "1|0.1": {
            "entropy": [2.615, 3.403, 3.442, 3.458, 3.462, 3.463, 3.464],
            "information": [0.0, 0.001, 0.006, 0.006, 0.004, 0.002, 0.002],
            "knn": 0.15,
            "marginal_entropy": [2.615, 3.404, 3.447, 3.465, 3.466, 3.466, 3.466],
            "rank": [1.163, 1.909, 3.911, 4.381, 3.663, 3.179, 2.838],
            "step": [0, 20, 40, 60, 80, 100, 120],
        },
    },
    "teacher_temperatures": [0.04, 0.07, 0.1],
}
