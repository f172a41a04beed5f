"""The ``barlow_vicreg`` notebook: what to measure, the cross-correlation, and the knob explorer.

:func:`indicators` reads the projector's output ``z`` (where both losses act) in eval mode: the
mean standard deviation of its dimensions (VICReg's variance term targets exactly that; 0 is
collapse) and its effective rank (how many directions it really uses). :func:`view_correlation`
is Barlow Twins' matrix ``C`` between two augmented views of some images, for a heatmap.

The explorer's knobs are Barlow Twins' ``lambda`` and which of VICReg's three terms is on. Each
setting means training a network, so the explorer reads a **precomputed** grid, :data:`GRID`,
measured with the notebook's quick settings (see its docstring); :func:`lambda_state`,
:func:`vicreg_state` and :func:`draw` are pure functions of a grid and the knobs' values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..augment import views
from ..losses import cross_correlation
from ..metrics import effective_rank
from ..utils import eval_mode

__all__ = [
    "GRID",
    "correlation_figure",
    "INDICATORS",
    "VICREG_SETTINGS",
    "draw",
    "indicators",
    "lambda_state",
    "mean_sd",
    "projections",
    "vicreg_state",
    "view_correlation",
]

#: The measured outcomes: key -> what the figures call it.
INDICATORS = {
    "knn": "kNN accuracy (encoder)",
    "std": "mean std of z's dimensions",
    "erank": "effective rank of z",
}

#: VICReg's settings in the grid: name -> the weights (inv_weight, var_weight, cov_weight).
VICREG_SETTINGS = {
    "all three terms": {"inv_weight": 25.0, "var_weight": 25.0, "cov_weight": 1.0},
    "no variance": {"inv_weight": 25.0, "var_weight": 0.0, "cov_weight": 1.0},
    "no covariance": {"inv_weight": 25.0, "var_weight": 25.0, "cov_weight": 0.0},
    "no invariance": {"inv_weight": 0.0, "var_weight": 25.0, "cov_weight": 1.0},
}

#: Precomputed runs behind the explorer (not recomputed by the notebook). Each entry is one
#: training run per seed of ``seeds``, with the notebook's quick settings: `shapes` at 16 px,
#: 3,000 training and 1,000 test images (``make_shapes(4000, 16, seed).split(1000, seed)``),
#: ``SmallConvNet()`` + projector to D = 128, the ``"shapes"`` augmentation preset, 150 Adam
#: steps of 128 at lr 2e-3, one torch thread on a CPU; kNN (k = 20) on the encoder's features,
#: std and effective rank of ``z`` on the first 512 test images. ``barlow`` is keyed by
#: ``lambda_param`` (1/128 = 1/D is the notebook's), ``vicreg`` by :data:`VICREG_SETTINGS`.
GRID: dict = {
    "seeds": [0, 1, 2],
    "raw_knn": [0.259, 0.242, 0.291],
    "barlow": {
        0.0: {
            "knn": [0.238, 0.262, 0.267],
            "std": [1.237, 1.247, 1.236],
            "erank": [5.43, 4.91, 5.06],
        },
        0.001: {
            "knn": [0.261, 0.254, 0.29],
            "std": [0.8088, 0.8316, 0.7617],
            "erank": [13.58, 14.22, 15.9],
        },
        0.0078125: {
            "knn": [0.364, 0.375, 0.376],
            "std": [0.5067, 0.5388, 0.5759],
            "erank": [26.69, 25.62, 25.49],
        },
        0.05: {
            "knn": [0.472, 0.46, 0.447],
            "std": [0.3674, 0.378, 0.3821],
            "erank": [47.36, 49.47, 48.72],
        },
        0.3: {
            "knn": [0.169, 0.197, 0.167],
            "std": [0.5861, 0.9924, 0.9102],
            "erank": [28.57, 21.34, 13.12],
        },
    },
    "vicreg": {
        "all three terms": {
            "knn": [0.419, 0.429, 0.444],
            "std": [0.5253, 0.507, 0.5455],
            "erank": [23.48, 24.65, 23.25],
        },
        "no variance": {
            "knn": [0.139, 0.164, 0.178],
            "std": [0.00634, 0.006785, 0.009549],
            "erank": [72.59, 76.45, 78.8],
        },
        "no covariance": {
            "knn": [0.247, 0.244, 0.257],
            "std": [1.058, 1.055, 1.086],
            "erank": [2.3, 2.52, 2.27],
        },
        "no invariance": {
            "knn": [0.236, 0.216, 0.25],
            "std": [0.9202, 0.8775, 0.9312],
            "erank": [69.74, 68.83, 67.73],
        },
    },
}


@torch.no_grad()
def projections(method: nn.Module, x: Tensor) -> Tensor:
    """The projector's output ``z = method.project(x)`` in eval mode, ``(N, D)`` on the CPU."""
    with eval_mode(method):
        return method.project(x).float().cpu()


def indicators(method: nn.Module, x: Tensor) -> dict[str, float]:
    """``{"std": mean over dimensions of z's std, "erank": effective_rank(z)}``, ``z`` of ``x``.

    The std is not normalised: VICReg's variance hinge asks for at least 1 in every dimension,
    and a collapsed embedding has std near 0. The effective rank is about D for an isotropic
    cloud and 1 for a line (see ``metrics.effective_rank``); it ignores scale, so a point with
    a little isotropic jitter reads as full-rank: look at both.
    """
    z = projections(method, x)
    return {"std": float(z.std(dim=0).mean()), "erank": effective_rank(z)}


@torch.no_grad()
def view_correlation(method: nn.Module, x: Tensor, n_dims: int = 32, seed: int = 0) -> np.ndarray:
    """Barlow Twins' cross-correlation ``C`` of two augmented views of ``x``, in eval mode.

    The views use ``method.augment`` with their own seed (the global random state is left as it
    was). Returns the top-left ``(n_dims, n_dims)`` block as a NumPy array.
    """
    if n_dims < 1:
        raise ValueError(f"n_dims must be >= 1, got {n_dims}")
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        v1, v2 = views(x, 2, method.augment)
    z1, z2 = projections(method, v1), projections(method, v2)
    return cross_correlation(z1, z2)[:n_dims, :n_dims].numpy()


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("values must not be empty")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def _state(runs: Mapping, chosen, raw: Sequence[float]) -> dict:
    order = list(runs)
    summary = {m: [mean_sd(runs[k][m]) for k in order] for m in INDICATORS if m in runs[order[0]]}
    i = order.index(chosen)
    return {
        "settings": order,
        "index": i,
        "mean": {m: [s[0] for s in v] for m, v in summary.items()},
        "sd": {m: [s[1] for s in v] for m, v in summary.items()},
        "chosen": {m: v[i][0] for m, v in summary.items()},
        "raw_knn": mean_sd(raw)[0],
        "n_seeds": len(runs[chosen]["knn"]),
    }


def lambda_state(lambda_param: float, grid: Mapping = GRID) -> dict:
    """What the explorer shows for Barlow Twins' ``lambda_param`` (a value of the grid).

    Returns:
        ``{"settings": the grid's lambdas in increasing order, "index": the chosen one's,
        "mean"/"sd": indicator -> per-lambda mean / sd over seeds, "chosen": indicator -> its
        mean at the chosen lambda, "raw_knn": raw pixels' kNN, "n_seeds": ...}``.

    Raises:
        KeyError: a lambda that is not in the grid (naming the ones that are).
    """
    runs = {float(k): v for k, v in sorted(grid["barlow"].items(), key=lambda kv: float(kv[0]))}
    matches = [k for k in runs if math.isclose(k, float(lambda_param), rel_tol=1e-6, abs_tol=0)]
    if not matches:
        raise KeyError(f"lambda_param {lambda_param!r} is not in the grid; it has {list(runs)}")
    return _state(runs, matches[0], grid["raw_knn"])


def vicreg_state(setting: str, grid: Mapping = GRID) -> dict:
    """What the explorer shows for one VICReg setting (a key of :data:`VICREG_SETTINGS`).

    Returns: as :func:`lambda_state`, with the settings' names in ``"settings"``.

    Raises:
        KeyError: an unknown setting (naming the known ones).
    """
    runs = dict(grid["vicreg"])
    if setting not in runs:
        raise KeyError(f"unknown setting {setting!r}; the grid has {', '.join(runs)}")
    return _state(runs, setting, grid["raw_knn"])


def _label(lam: float) -> str:
    return "0" if lam == 0 else f"{lam:.3g}"


def draw(lambda_param: float, setting: str, grid: Mapping = GRID):
    """The explorer: Barlow Twins against lambda, VICReg per setting, and a one-line summary.

    Returns ``(barlow figure, vicreg figure, HTML summary)``; in each figure one panel per
    indicator (kNN with the raw-pixel line, std of z, effective rank of z), mean +- sd over
    the grid's seeds, the chosen setting in red.

    Example:
        >>> viz.explorer(draw, lambda_param=viz.dropdown("lambda", lambdas, 1 / 128),
        ...              setting=viz.dropdown("VICReg", list(VICREG_SETTINGS)))
    """
    from plotly.subplots import make_subplots

    figures = []
    states = {
        "Barlow Twins": lambda_state(lambda_param, grid),
        "VICReg": vicreg_state(setting, grid),
    }
    for name, s in states.items():
        labels = [_label(k) if name == "Barlow Twins" else k for k in s["settings"]]
        metrics = list(s["mean"])
        fig = make_subplots(
            rows=1, cols=len(metrics), subplot_titles=[INDICATORS[m] for m in metrics]
        )
        colours = ["#d62728" if i == s["index"] else "#7f7f7f" for i in range(len(labels))]
        for col, m in enumerate(metrics, start=1):
            fig.add_bar(
                x=labels, y=s["mean"][m], error_y={"type": "data", "array": s["sd"][m]},
                marker_color=colours, showlegend=False, row=1, col=col,
            )  # fmt: skip
            if m == "knn":
                fig.add_hline(y=s["raw_knn"], line_dash="dot", line_color="black", row=1, col=col,
                              annotation_text="raw pixels")  # fmt: skip
            if m == "std":
                fig.update_yaxes(type="log", row=1, col=col)
        xtitle = "lambda (redundancy weight)" if name == "Barlow Twins" else "VICReg terms"
        fig.update_xaxes(title_text=xtitle, type="category")
        fig.update_layout(
            height=330,
            title=f"{name} (precomputed, {s['n_seeds']} seeds): "
            + ", ".join(f"{m} {s['chosen'][m]:.3g}" for m in metrics),
        )
        figures.append(fig)
    b, v = states["Barlow Twins"]["chosen"], states["VICReg"]["chosen"]
    html = (
        f"<b>Barlow Twins, lambda = {_label(float(lambda_param))}</b>: kNN {b['knn']:.3f}, "
        f"effective rank {b['erank']:.1f} &nbsp;|&nbsp; <b>VICReg, {setting}</b>: kNN "
        f"{v['knn']:.3f}, std of z {v['std']:.3g}, effective rank {v['erank']:.1f} "
        f"&nbsp;|&nbsp; raw pixels: kNN {states['VICReg']['raw_knn']:.3f}"
    )
    return figures[0], figures[1], html


def correlation_figure(matrices: Mapping[str, np.ndarray], title: str = ""):
    """Heatmaps of cross-correlation matrices side by side, on one colour scale in [-1, 1]."""
    from plotly.subplots import make_subplots

    if not matrices:
        raise ValueError("matrices must name at least one matrix")
    fig = make_subplots(rows=1, cols=len(matrices), subplot_titles=list(matrices))
    for col, c in enumerate(matrices.values(), start=1):
        fig.add_heatmap(
            z=np.asarray(c), zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
            showscale=col == len(matrices), row=1, col=col,
        )  # fmt: skip
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{col}", row=1, col=col)
    fig.update_layout(height=380, title=title)
    return fig
