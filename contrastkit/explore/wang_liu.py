"""The ``wang_liu`` notebook: the digits sweep, the paper's Table 1, the temperature explorer.

Wang & Liu (CVPR 2021; the method is :class:`contrastkit.methods.wang_liu.WangLiu`) read the
contrastive loss as a Boltzmann distribution over each anchor's negatives. This module holds
what the notebook trains, compares and draws:

* the standardised digits (:func:`digits_data`), a temperature / loss sweep (:func:`run_sweep`,
  named settings :func:`parse_setting`) and its seed-averaged table (:func:`summarise`);
* the paper's Table 1 (:data:`PAPER_TABLE1`), its trends (:data:`TRENDS`, :func:`trend_table`)
  and the toy beside it (:func:`paper_vs_toy`);
* the closed-form temperature explorer: how the ordinary and the hard loss share their push
  among an anchor's negatives at a temperature ``t`` (:func:`explorer_state`, pure NumPy so a
  slider can call it on every move; :func:`draw` for ``viz.explorer``), the effective number of
  negatives of a fixed embedding (:func:`effective_negatives_vs_tau`), and the notebook's
  plotly figures (the tau slider, the sweep and the uniformity-tolerance plane, the 3-D
  spheres, the toy against Table 1).

(It replaces ``contrastkit.viz.temperature``: viz sits below the methods and may not import them.)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor, nn

from ..augment import AugmentConfig
from ..data import load_digits
from ..data.base import ImageData
from ..evaluation import embed, evaluate
from ..methods.wang_liu import WangLiu, digits_mlp
from ..train import fit
from ..utils import seed_everything

__all__ = [
    "EXPLORER_TITLE",
    "PAPER_TABLE1",
    "TAU_GRID",
    "TRENDS",
    "digits_data",
    "draw",
    "effective_negatives_vs_tau",
    "explorer_figure",
    "explorer_readout",
    "explorer_state",
    "paper_figure",
    "paper_vs_toy",
    "parse_setting",
    "plane_figure",
    "run_sweep",
    "spheres_figure",
    "summarise",
    "sweep_figure",
    "tau_slider_figure",
    "trend_table",
    "update_explorer",
]


# ----------------------------------------------------------------------------------------------
# The digits, the sweep and its table


def digits_data(
    n_test: int = 397, seed: int = 0, device: str | torch.device = "cpu"
) -> tuple[ImageData, ImageData]:
    """scikit-learn's digits split into (train, test), standardised per pixel with train stats.

    Pixels that never vary (the corners) keep a scale of 1. Use the ``"digits"`` augmentation
    preset with these (it does not clip to ``[0, 1]``).
    """
    train, test = load_digits().split(n_test, seed=seed)
    mean = train.x.mean(0, keepdim=True)
    std = train.x.std(0, keepdim=True)
    std = torch.where(std < 1e-6, torch.ones_like(std), std)
    train = replace(train, x=(train.x - mean) / std)
    test = replace(test, x=(test.x - mean) / std)
    return train.to(device), test.to(device)


_NAME = re.compile(r"^(C|H)(\d*\.?\d+)$")


def parse_setting(setting: str | Mapping) -> dict:
    """A run's settings from its name in the paper's table or from a dict.

    Names: ``"C0.3"`` (contrastive, t = 0.3), ``"H1.0"`` (hard, t = 1), ``"Simple"``,
    ``"HardSimple"``. A dict may hold ``loss``, ``temperature``, ``k``, ``quantile``, ``lam``,
    ``out_dim`` and ``name``.

    Raises:
        ValueError: for a name that is none of these.
    """
    if isinstance(setting, Mapping):
        s = dict(setting)
        s.setdefault("loss", "contrastive")
        s.setdefault("temperature", 1.0)
        if "name" not in s:
            short = {"contrastive": "C", "hard": "H"}.get(s["loss"])
            full = {"simple": "Simple", "hard_simple": "HardSimple"}.get(s["loss"])
            s["name"] = f"{short}{s['temperature']:g}" if short else full
        return s
    if setting == "Simple":
        return {"name": setting, "loss": "simple", "temperature": 1.0}
    if setting == "HardSimple":
        return {"name": setting, "loss": "hard_simple", "temperature": 1.0}
    m = _NAME.match(str(setting))
    if not m:
        raise ValueError(
            f"setting {setting!r} is not 'C<tau>', 'H<tau>', 'Simple', 'HardSimple' or a dict"
        )
    loss = "contrastive" if m.group(1) == "C" else "hard"
    return {"name": setting, "loss": loss, "temperature": float(m.group(2))}


def run_sweep(
    settings: Iterable[str | Mapping],
    train: ImageData,
    test: ImageData,
    *,
    seeds: Sequence[int] = (0,),
    epochs: float = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    k: int | None = 51,
    out_dim: int = 32,
    encoder: Callable[[int], nn.Module] | None = None,
    augment: AugmentConfig | str = "digits",
    linear: bool = True,
    keep_embeddings: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> list[dict]:
    """Train one model per (setting, seed) and measure it on ``test``.

    Every run with the same seed starts from the same weights and sees the same batches, so
    differences between settings are the loss's alone.

    Args:
        settings: names (``"C0.1"``, ``"H1.0"``, ``"Simple"``, ``"HardSimple"``) or dicts
            (see :func:`parse_setting`; a dict may override ``k`` and ``out_dim``).
        train, test: the data; ``fit`` trains on ``train``, probes fit on train, score on test.
        seeds: one run per seed for each setting.
        epochs, batch_size, lr: training (Adam).
        k: negatives kept by the hard losses (51 of 510 at batch 256).
        out_dim: embedding size of the default encoder (3 for the sphere pictures).
        encoder: ``encoder(out_dim) -> nn.Module``; the digits MLP when None.
        augment: the views' augmentation.
        linear: also fit a linear probe (logistic regression) besides kNN.
        keep_embeddings: keep the test embeddings (``"z"``, on the CPU) in each result.

    Returns:
        One dict per run: ``name, loss, temperature, k, seed, knn, linear (if asked),
        uniformity (-L_unif, higher = more uniform), tolerance, seconds`` (and ``z``).
    """
    make = encoder or digits_mlp
    results = []
    for setting in settings:
        s = parse_setting(setting)
        kk = s.get("k", k) if s.get("quantile") is None else None
        for seed in seeds:
            seed_everything(int(seed))
            method = WangLiu(
                make(s.get("out_dim", out_dim)),
                loss=s["loss"],
                temperature=s["temperature"],
                k=kk if s["loss"].startswith("hard") else None,
                quantile=s.get("quantile"),
                lam=s.get("lam", 1.0),
                augment=augment,
            )
            t0 = time.perf_counter()
            fit(
                method,
                train,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=int(seed),
                device=device,
                progress=progress,
                desc=s["name"],
            )
            seconds = time.perf_counter() - t0
            row = {
                "name": s["name"],
                "loss": s["loss"],
                "temperature": s["temperature"],
                "k": kk if s["loss"].startswith("hard") else None,
                "seed": int(seed),
                **evaluate(method, train, test, linear=linear),
                "seconds": seconds,
            }
            if keep_embeddings:
                row["z"] = embed(method, test.x)  # (N, D) on the CPU, in eval mode
            results.append(row)
    return results


def summarise(results: Sequence[Mapping], metrics: Sequence[str] | None = None):
    """A pandas table of the runs: one row per setting name, the mean (and std) over seeds."""
    import pandas as pd

    df = pd.DataFrame([{k: v for k, v in r.items() if k != "z"} for r in results])
    metrics = list(metrics or [m for m in ("knn", "linear", "uniformity", "tolerance") if m in df])
    grouped = df.groupby("name", sort=False)
    out = grouped[["loss", "temperature"]].first()
    # the paper's column order: contrastive by tau, simple, hard by tau, hard simple
    rank = out["loss"].map(
        {loss: i for i, loss in enumerate(("contrastive", "simple", "hard", "hard_simple"))}
    )
    out = out.assign(_rank=rank).sort_values(["_rank", "temperature"]).drop(columns="_rank")
    out[metrics] = grouped[metrics].mean().loc[out.index]
    if df["seed"].nunique() > 1:
        for m in metrics:
            out[f"{m}_std"] = grouped[m].std().loc[out.index]
    out["runs"] = grouped.size().loc[out.index]
    return out


# ----------------------------------------------------------------------------------------------
# The paper's Table 1 and its trends


#: The paper's Table 1: linear accuracy (%), -L_unif and tolerance. C = contrastive at tau,
#: H = hard contrastive at tau. Read from the paper's text.
# fmt: off
PAPER_TABLE1: dict[str, dict[str, dict[str, float]]] = {
    "CIFAR-10": {
        "acc": {"C0.07": 79.75, "C0.3": 83.27, "C0.7": 82.69, "C1": 82.21, "Simple": 74.83,
                "H0.07": 79.2, "H0.3": 83.63, "H0.7": 84.19, "H1": 84.19, "HardSimple": 84.84},
        "unif": {"C0.07": 3.86, "C0.3": 3.60, "C0.7": 3.17, "C1": 2.96, "Simple": 1.68,
                 "H0.07": 3.88, "H0.3": 3.89, "H0.7": 3.87, "H1": 3.86, "HardSimple": 3.85},
        "tol": {"C0.07": 0.04, "C0.3": 0.178, "C0.7": 0.333, "C1": 0.372, "Simple": 0.61,
                "H0.07": 0.034, "H0.3": 0.0267, "H0.7": 0.030, "H1": 0.030, "HardSimple": 0.030},
    },
    "CIFAR-100": {
        "acc": {"C0.07": 51.82, "C0.3": 56.44, "C0.7": 50.99, "C1": 48.33, "Simple": 39.31,
                "H0.07": 50.77, "H0.3": 56.55, "H0.7": 57.54, "H1": 56.77, "HardSimple": 55.71},
        "unif": {"C0.07": 3.86, "C0.3": 3.60, "C0.7": 3.18, "C1": 2.96, "Simple": 2.12,
                 "H0.07": 3.87, "H0.3": 3.88, "H0.7": 3.87, "H1": 3.86, "HardSimple": 3.86},
        "tol": {"C0.07": 0.10, "C0.3": 0.269, "C0.7": 0.331, "C1": 0.343, "Simple": 0.39,
                "H0.07": 0.088, "H0.3": 0.124, "H0.7": 0.158, "H1": 0.172, "HardSimple": 0.174},
    },
    "SVHN": {
        "acc": {"C0.07": 92.55, "C0.3": 95.47, "C0.7": 94.17, "C1": 92.07, "Simple": 70.83,
                "H0.07": 91.82, "H0.3": 94.79, "H0.7": 95.02, "H1": 95.26, "HardSimple": 94.99},
        "unif": {"C0.07": 3.88, "C0.3": 3.65, "C0.7": 3.27, "C1": 3.05, "Simple": 1.50,
                 "H0.07": 3.89, "H0.3": 3.91, "H0.7": 3.90, "H1": 3.88, "HardSimple": 3.85},
        "tol": {"C0.07": 0.032, "C0.3": 0.137, "C0.7": 0.186, "C1": 0.197, "Simple": 0.074,
                "H0.07": 0.025, "H0.3": 0.021, "H0.7": 0.021, "H1": 0.023, "HardSimple": 0.026},
    },
    "ImageNet-100": {
        "acc": {"C0.07": 71.53, "C0.3": 75.10, "C0.7": 69.03, "C1": 63.57, "Simple": 48.09,
                "H0.07": 68.33, "H0.3": 74.21, "H0.7": 74.70, "H1": 74.28, "HardSimple": 74.31},
        "unif": {"C0.07": 3.917, "C0.3": 3.693, "C0.7": 3.323, "C1": 3.08, "Simple": 1.742,
                 "H0.07": 3.929, "H0.3": 3.932, "H0.7": 3.927, "H1": 3.923, "HardSimple": 3.917},
        "tol": {"C0.07": 0.093, "C0.3": 0.380, "C0.7": 0.427, "C1": 0.456, "Simple": 0.528,
                "H0.07": 0.067, "H0.3": 0.096, "H0.7": 0.121, "H1": 0.134, "HardSimple": 0.157},
    },
}
# fmt: on


def _families(values: Mapping[str, float]) -> dict:
    """``{"C": {tau: v}, "H": {tau: v}, "Simple": v, "HardSimple": v}`` from setting names."""
    fam: dict = {"C": {}, "H": {}}
    for name, v in values.items():
        s = parse_setting(name)
        if s["loss"] == "contrastive":
            fam["C"][s["temperature"]] = v
        elif s["loss"] == "hard":
            fam["H"][s["temperature"]] = v
        else:
            fam["Simple" if s["loss"] == "simple" else "HardSimple"] = v
    return fam


def _spread(d: Mapping[float, float]) -> float:
    return max(d.values()) - min(d.values())


def _ends(d: Mapping[float, float]) -> tuple[float, float]:
    return d[min(d)], d[max(d)]


#: The paper's trends, each a test on ``(acc, unif, tol)`` families (see :func:`_families`).
TRENDS: dict[str, Callable[[dict, dict, dict], bool | None]] = {
    "uniformity falls from the smallest to the largest tau": lambda a, u, t: (
        _ends(u["C"])[0] > _ends(u["C"])[1]
    ),
    "tolerance rises from the smallest to the largest tau": lambda a, u, t: (
        _ends(t["C"])[1] > _ends(t["C"])[0]
    ),
    "accuracy peaks at an inner tau (reverse U)": lambda a, u, t: (
        min(a["C"]) < max(a["C"], key=a["C"].get) < max(a["C"])
    ),
    "the simple loss is less accurate than every contrastive run": lambda a, u, t: (
        a["Simple"] < min(a["C"].values()) if "Simple" in a else None
    ),
    "the simple loss is the least uniform": lambda a, u, t: (
        u["Simple"] < min(u["C"].values()) if "Simple" in u else None
    ),
    "hard loss at the largest tau is more uniform than the ordinary one": lambda a, u, t: (
        u["H"][max(u["H"])] > u["C"][max(u["H"])] if u["H"] and max(u["H"]) in u["C"] else None
    ),
    "hard loss at the largest tau is more accurate than the ordinary one": lambda a, u, t: (
        a["H"][max(a["H"])] > a["C"][max(a["H"])] if a["H"] and max(a["H"]) in a["C"] else None
    ),
    "hard loss at the largest tau is less tolerant than the ordinary one": lambda a, u, t: (
        t["H"][max(t["H"])] < t["C"][max(t["H"])] if t["H"] and max(t["H"]) in t["C"] else None
    ),
    "hard loss's uniformity varies less over tau than the ordinary loss's": lambda a, u, t: (
        _spread(u["H"]) < _spread({k: u["C"][k] for k in u["H"] if k in u["C"]})
        if len([k for k in u["H"] if k in u["C"]]) >= 2
        else None
    ),
    "HardSimple is more accurate than Simple": lambda a, u, t: (
        a["HardSimple"] > a["Simple"] if "HardSimple" in a and "Simple" in a else None
    ),
}


def trend_table(toys: Mapping[str, Mapping[str, Mapping[str, float]]]):
    """Which of the paper's trends hold in each of its datasets and in the toy run(s).

    Args:
        toys: label -> (setting name -> ``{"acc": ..., "unif": ..., "tol": ...}``), e.g. the
            toy with kNN accuracy and with linear accuracy, averaged over seeds.

    Returns:
        A pandas DataFrame: one row per trend of :data:`TRENDS`, one column per dataset of
        :data:`PAPER_TABLE1` and per toy; cells are "yes", "no" or "-" (not measured).
    """
    import pandas as pd

    def check(acc, unif, tol):
        fam = [_families(m) for m in (acc, unif, tol)]
        out = {}
        for trend, test in TRENDS.items():
            try:
                ok = test(*fam)
            except (KeyError, ValueError):
                ok = None
            out[trend] = "-" if ok is None else ("yes" if ok else "no")
        return out

    cols = {data: check(t["acc"], t["unif"], t["tol"]) for data, t in PAPER_TABLE1.items()}
    for label, toy in toys.items():
        cols[label] = check(
            *({n: m[key] for n, m in toy.items()} for key in ("acc", "unif", "tol"))
        )
    return pd.DataFrame(cols)


def paper_vs_toy(
    toy: Mapping[str, Mapping[str, float]], dataset: str = "CIFAR-10", max_ratio: float = 1.5
):
    """The paper's Table 1 for ``dataset`` beside the toy's numbers, setting by setting.

    Each paper setting is matched to the toy run of the same loss at the nearest temperature
    (within a factor ``max_ratio``; the matched run is named in ``toy run``).

    Returns:
        A pandas DataFrame indexed by the paper's settings, with ``paper acc (%)``,
        ``paper unif``, ``paper tol``, ``toy run``, ``toy acc``, ``toy unif``, ``toy tol``.
    """
    import pandas as pd

    paper = PAPER_TABLE1[dataset]
    parsed = {n: parse_setting(n) for n in toy}
    # one-to-one, closest temperatures first: C0.7 must not borrow the toy's C1.0 from C1
    pairs = []
    for name in paper["acc"]:
        p = parse_setting(name)
        for n, s in parsed.items():
            if s["loss"] != p["loss"]:
                continue
            gap = abs(math.log(s["temperature"] / p["temperature"]))
            if p["loss"] in ("simple", "hard_simple") or gap <= math.log(max_ratio):
                pairs.append((gap, name, n))
    matched: dict[str, str] = {}
    for _, name, n in sorted(pairs):
        if name not in matched and n not in matched.values():
            matched[name] = n
    rows = {}
    for name in paper["acc"]:
        hit = matched.get(name)
        rows[name] = {
            "paper acc (%)": paper["acc"][name],
            "paper unif": paper["unif"][name],
            "paper tol": paper["tol"][name],
            "toy run": hit or "-",
            "toy acc": toy[hit]["acc"] if hit else float("nan"),
            "toy unif": toy[hit]["unif"] if hit else float("nan"),
            "toy tol": toy[hit]["tol"] if hit else float("nan"),
        }
    return pd.DataFrame(rows).T


# ----------------------------------------------------------------------------------------------
# Negative weights, closed form (NumPy, float64: the explorer runs without torch on each move)


def _boltzmann(sims: np.ndarray, tau: float, kept: np.ndarray | None = None) -> np.ndarray:
    """``softmax(sims / tau)`` along the last axis over ``kept`` entries (others get 0)."""
    logits = np.asarray(sims, dtype=np.float64) / tau
    if kept is not None:
        logits = np.where(kept, logits, -np.inf)
    logits = logits - logits.max(axis=-1, keepdims=True)  # log-sum-exp shift: no overflow
    w = np.exp(logits)
    return w / w.sum(axis=-1, keepdims=True)


def _n_eff(w: np.ndarray) -> np.ndarray:
    """``exp(entropy)`` along the last axis (0 log 0 = 0)."""
    plogp = np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)
    return np.exp(-plogp.sum(axis=-1))


def _hardest(sims: np.ndarray, keep_fraction: float) -> tuple[np.ndarray, int]:
    """Bool mask of each row's ``round(keep_fraction * M)`` (at least 1) largest entries."""
    m = sims.shape[-1]
    n_kept = max(1, min(m, int(round(keep_fraction * m))))
    order = np.argsort(-sims, axis=-1, kind="stable")[..., :n_kept]
    kept = np.zeros(sims.shape, dtype=bool)
    np.put_along_axis(kept, order, True, axis=-1)
    return kept, n_kept


def effective_negatives_vs_tau(
    z: Tensor, taus: Sequence[float], n_anchors: int = 100, keep_fraction: float = 1.0
) -> np.ndarray:
    """Effective number of negatives, ``exp(entropy of r_i)``, of anchors of a fixed embedding.

    The first ``n_anchors`` rows of ``z`` are the anchors, the other rows their shared
    negatives (nothing is trained). Uses :func:`contrastkit.metrics.negative_weights` and
    :func:`~contrastkit.metrics.effective_negatives`; with ``keep_fraction < 1`` each anchor
    keeps only its hardest negatives, as the hard loss does.

    Args:
        z: ``(N, D)`` embeddings, ``N > n_anchors``. taus: temperatures.
        n_anchors: how many rows are anchors. keep_fraction: share of negatives kept.

    Returns:
        ``(len(taus), n_anchors)``: each anchor's effective number of negatives at each tau.
    """
    from ..metrics import effective_negatives, negative_weights

    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}")
    if not 0 < n_anchors < z.shape[0]:
        raise ValueError(f"n_anchors must be in (0, {z.shape[0]}), got {n_anchors}")
    anchors, negatives = z[:n_anchors], z[n_anchors:]  # (A, D), (M, D)
    out = []
    for tau in taus:
        w = negative_weights(anchors, negatives, tau)  # (A, M), rows sum to 1
        if keep_fraction < 1:  # renormalise over each anchor's hardest negatives
            kept, _ = _hardest(w.double().cpu().numpy(), keep_fraction)
            w = w * torch.from_numpy(kept).to(w.device)
            w = w / w.sum(dim=1, keepdim=True)
        out.append(effective_negatives(w).cpu().numpy())
    return np.stack(out)


#: Temperatures the explorer draws its curves over (log-spaced, 0.01 to 10).
TAU_GRID = np.logspace(-2, 1, 61)


def explorer_state(
    sims: np.ndarray | Tensor,
    tau: float,
    keep_fraction: float = 1.0,
    sweep: Sequence[Mapping] | None = None,
    tau_grid: Sequence[float] | None = None,
) -> dict[str, np.ndarray | float | int]:
    """Everything the temperature explorer draws, for one anchor, in closed form.

    Pure and fast (NumPy only, ~1 ms for 400 negatives): called on every slider move, and by
    the tests.

    Args:
        sims: ``(M,)`` cosine similarities of one anchor to its negatives.
        tau: the temperature (> 0).
        keep_fraction: the share of hardest negatives the hard loss keeps, in ``(0, 1]``.
        sweep: optional precomputed runs (dicts with ``loss``, ``temperature``, ``uniformity``,
            ``tolerance``, ``knn``): the state then names the run nearest to ``tau`` (log
            scale) for the contrastive and the hard loss.
        tau_grid: temperatures for the curves (default :data:`TAU_GRID`).

    Returns:
        A dict: ``similarity`` (M,) sorted high to low; ``weight`` (M,) the ordinary loss's
        Boltzmann weights ``r_i``; ``weight_hard`` (M,) the hard loss's (0 outside the kept
        set); ``kept`` (M,) bool; ``n_kept``; ``n_eff`` and ``n_eff_hard`` (exp of entropy);
        ``tau_grid``, ``n_eff_curve`` and ``n_eff_hard_curve`` over the grid; ``tau``;
        ``keep_fraction``; with ``sweep``, ``nearest`` and ``nearest_hard`` (indices into
        ``sweep``, -1 if none).

    Raises:
        ValueError: a bad ``tau``, ``keep_fraction`` or ``sims``.
    """
    if isinstance(sims, Tensor):
        sims = sims.detach().double().cpu().numpy()
    sims = np.asarray(sims, dtype=np.float64)
    if sims.ndim != 1 or sims.size < 1 or not np.isfinite(sims).all():
        raise ValueError(
            f"sims must be a finite 1-D array of negatives' similarities, got shape {sims.shape}"
        )
    if not (isinstance(tau, (int, float, np.floating)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}")
    s = np.sort(sims)[::-1].copy()  # (M,) hardest first
    kept, n_kept = _hardest(s, keep_fraction)
    grid = np.asarray(TAU_GRID if tau_grid is None else tau_grid, dtype=np.float64)
    w = _boltzmann(s, tau)
    w_hard = _boltzmann(s, tau, kept)
    curve = _n_eff(_boltzmann(s[None, :] / grid[:, None], 1.0))  # (T,)
    curve_hard = _n_eff(_boltzmann(s[None, :] / grid[:, None], 1.0, kept[None, :]))
    state: dict = {
        "similarity": s,
        "weight": w,
        "weight_hard": w_hard,
        "kept": kept,
        "n_kept": n_kept,
        "n_eff": float(_n_eff(w)),
        "n_eff_hard": float(_n_eff(w_hard)),
        "tau": float(tau),
        "keep_fraction": float(keep_fraction),
        "tau_grid": grid,
        "n_eff_curve": curve,
        "n_eff_hard_curve": curve_hard,
    }
    if sweep is not None:
        for key, loss in (("nearest", "contrastive"), ("nearest_hard", "hard")):
            idx = [i for i, r in enumerate(sweep) if r["loss"] == loss]
            if idx:
                dist = [abs(math.log(sweep[i]["temperature"] / tau)) for i in idx]
                state[key] = idx[int(np.argmin(dist))]
            else:
                state[key] = -1
    return state


EXPLORER_TITLE = "Temperature explorer"


def explorer_figure(state: Mapping, sweep: Sequence[Mapping] | None = None):
    """The explorer's figure (three panels) for a first :func:`explorer_state`.

    Panels: the weight of every negative against its similarity (ordinary and hard loss, log
    scale, so the Boltzmann law is a straight line of slope 1/tau); the effective number of
    negatives against tau; and, when ``sweep`` is given, the trained runs in the
    uniformity-tolerance plane with the run nearest to tau ringed. Wrap it in
    ``go.FigureWidget`` and call :func:`update_explorer` from the sliders.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "weight of each negative (one anchor)",
            "effective number of negatives",
            "trained runs: uniformity vs tolerance",
        ),
        horizontal_spacing=0.08,
    )
    grey, orange, blue = "#7f7f7f", "#ff7f0e", "#1f77b4"
    fig.add_trace(
        go.Scatter(name="contrastive", mode="markers", marker={"color": grey, "size": 5}), 1, 1
    )
    fig.add_trace(
        go.Scatter(
            name="hard (kept negatives)", mode="markers", marker={"color": orange, "size": 5}
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            name="contrastive",
            x=state["tau_grid"],
            y=state["n_eff_curve"],
            mode="lines",
            line={"color": grey},
            showlegend=False,
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="hard",
            x=state["tau_grid"],
            y=state["n_eff_hard_curve"],
            mode="lines",
            line={"color": orange},
            showlegend=False,
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="now",
            mode="markers",
            showlegend=False,
            marker={"color": "black", "size": 10, "symbol": "x"},
        ),
        1,
        2,
    )
    if sweep:
        for loss, colour, label in (
            ("contrastive", blue, "contrastive runs"),
            ("hard", orange, "hard runs"),
        ):
            rows = sorted((r for r in sweep if r["loss"] == loss), key=lambda r: r["temperature"])
            fig.add_trace(
                go.Scatter(
                    name=label,
                    x=[r["uniformity"] for r in rows],
                    y=[r["tolerance"] for r in rows],
                    text=[f"tau={r['temperature']:g}" for r in rows],
                    mode="lines+markers+text",
                    textposition="top center",
                    marker={"color": colour, "size": 8},
                    line={"color": colour, "dash": "dot"},
                ),
                1,
                3,
            )
        fig.add_trace(
            go.Scatter(
                name="nearest run",
                mode="markers",
                showlegend=False,
                marker={
                    "size": 18,
                    "color": "rgba(0,0,0,0)",
                    "line": {"color": "black", "width": 2},
                },
            ),
            1,
            3,
        )
    fig.update_yaxes(type="log", range=[-6, 0.05], title_text="weight r_i (log)", row=1, col=1)
    fig.update_xaxes(title_text="cosine similarity to the anchor", row=1, col=1)
    fig.update_xaxes(type="log", title_text="tau", row=1, col=2)
    fig.update_yaxes(type="log", title_text="exp(entropy)", row=1, col=2)
    fig.update_xaxes(title_text="uniformity (-L_unif)", row=1, col=3)
    fig.update_yaxes(title_text="tolerance", row=1, col=3)
    fig.update_layout(
        title=EXPLORER_TITLE, height=420, width=1150, legend={"orientation": "h", "y": -0.2}
    )
    update_explorer(fig, state, sweep)
    return fig


def update_explorer(fig, state: Mapping, sweep: Sequence[Mapping] | None = None) -> None:
    """Redraw ``fig`` (from :func:`explorer_figure`) for a new :func:`explorer_state`."""
    kept = state["kept"]
    floor = 1e-6  # log axis: show vanishing weights at the floor rather than not at all
    hold = fig.batch_update() if hasattr(fig, "batch_update") else nullcontext()
    with hold:
        fig.data[0].x = state["similarity"]
        fig.data[0].y = np.maximum(state["weight"], floor)
        fig.data[1].x = state["similarity"][kept]
        fig.data[1].y = np.maximum(state["weight_hard"][kept], floor)
        fig.data[4].x = [state["tau"], state["tau"]]
        fig.data[4].y = [state["n_eff"], state["n_eff_hard"]]
        fig.data[3].y = state["n_eff_hard_curve"]
        if sweep and len(fig.data) > 5:
            ring = [i for i in (state.get("nearest", -1), state.get("nearest_hard", -1)) if i >= 0]
            fig.data[-1].x = [sweep[i]["uniformity"] for i in ring]
            fig.data[-1].y = [sweep[i]["tolerance"] for i in ring]


def explorer_readout(state: Mapping, sweep: Sequence[Mapping] | None = None) -> str:
    """One line of numbers for the explorer's current state (HTML)."""
    text = (
        f"<b>tau = {state['tau']:.3g}</b>: the ordinary loss spreads its push over "
        f"<b>{state['n_eff']:.1f}</b> effective negatives of {len(state['similarity'])}; "
        f"the hard loss keeps {state['n_kept']} and spreads over "
        f"<b>{state['n_eff_hard']:.1f}</b>."
    )
    for key, label in (("nearest", "contrastive"), ("nearest_hard", "hard")):
        i = state.get(key, -1)
        if sweep and i >= 0:
            r = sweep[i]
            text += (
                f" Nearest trained {label} run (tau={r['temperature']:g}): kNN "
                f"{r['knn']:.3f}, uniformity {r['uniformity']:.2f}, tolerance "
                f"{r['tolerance']:.3f}."
            )
    return text


def draw(
    tau: float,
    keep_fraction: float,
    sims: np.ndarray | Tensor,
    sweep: Sequence[Mapping] | None = None,
) -> tuple[str, object]:
    """The explorer's view for ``viz.explorer``: ``(readout HTML, figure)`` at one setting.

    Example:
        >>> viz.explorer(functools.partial(draw, sims=sims, sweep=runs),
        ...              tau=viz.log_slider("tau", 0.3, -2, 1, 0.05),
        ...              keep_fraction=viz.slider("keep fraction", 0.1, 0.01, 1.0, 0.01))
    """
    state = explorer_state(sims, tau, keep_fraction, sweep=sweep)
    return explorer_readout(state, sweep), explorer_figure(state, sweep)


# ----------------------------------------------------------------------------------------------
# Figures of the notebook (plotly): kept here so that its cells stay short


def tau_slider_figure(sims: np.ndarray | Tensor, taus: Sequence[float], start: float = 0.3):
    """Section 1's figure: one anchor's negative weights, with a plotly slider over ``taus``.

    A plain plotly slider whose steps restyle the traces (no frames, so nothing autoplays), so
    it works in a static render too, without a kernel. It starts at the tau nearest ``start``.
    """
    states = [explorer_state(sims, float(t)) for t in taus]
    active = int(np.argmin([abs(math.log(t / start)) for t in taus]))
    fig = explorer_figure(states[active])
    for i in (1, 3):  # the hard loss's traces: not in this figure
        fig.data[i].visible = False
    floor = 1e-6
    steps = []
    for st in states:
        steps.append(
            {
                "label": f"{st['tau']:g}",
                "method": "restyle",
                # traces 0 (weights) and 4 (the cross on the N_eff curve), as lists of lists
                "args": [
                    {
                        "x": [st["similarity"].tolist(), [st["tau"]]],
                        "y": [np.maximum(st["weight"], floor).tolist(), [st["n_eff"]]],
                    },
                    [0, 4],
                ],
            }
        )
    fig.data[4].x, fig.data[4].y = [states[active]["tau"]], [states[active]["n_eff"]]
    fig.update_layout(
        title="One anchor's negatives: weight against similarity as tau changes",
        sliders=[
            {
                "active": active,
                "steps": steps,
                "currentvalue": {"prefix": "tau = "},
                "pad": {"t": 60},
            }
        ],
        height=520,
        showlegend=False,
    )
    # two panels only: widen the first two, drop the third (the trained runs)
    fig.update_layout(
        xaxis={"domain": [0.0, 0.45]},
        xaxis2={"domain": [0.56, 1.0]},
        xaxis3={"visible": False, "domain": [0.99, 1.0]},
        yaxis3={"visible": False},
        width=1000,
    )
    fig.layout.annotations[0].x, fig.layout.annotations[1].x = 0.225, 0.78
    fig.layout.annotations[2].text = ""
    return fig


def _contrastive_rows(table):
    return table[table["loss"] == "contrastive"].sort_values("temperature")


def sweep_figure(table):
    """Accuracy, uniformity and tolerance against tau (a :func:`summarise` table)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    c = _contrastive_rows(table)
    metrics = [
        ("knn", "accuracy"),
        ("uniformity", "uniformity (-L_unif)"),
        ("tolerance", "tolerance"),
    ]
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=[m[1] for m in metrics], horizontal_spacing=0.07
    )
    colours = {
        "knn": "#1f77b4",
        "linear": "#9467bd",
        "uniformity": "#2ca02c",
        "tolerance": "#d62728",
    }
    for col, (metric, _) in enumerate(metrics, start=1):
        shown = [metric] + (["linear"] if metric == "knn" and "linear" in table else [])
        for m in shown:
            err = c.get(f"{m}_std")
            fig.add_trace(
                go.Scatter(
                    x=c["temperature"],
                    y=c[m],
                    mode="lines+markers",
                    name=f"contrastive: {m}",
                    line={"color": colours[m]},
                    error_y=None if err is None else {"type": "data", "array": err},
                ),
                1,
                col,
            )
            for name, row in table[table["loss"] != "contrastive"].iterrows():
                style = {"simple": "dash", "hard_simple": "dot"}.get(row["loss"])
                if style:  # no temperature: a horizontal line
                    fig.add_hline(
                        y=row[m],
                        line_dash=style,
                        line_color=colours[m],
                        annotation_text=name if m == metric else "",
                        row=1,
                        col=col,
                    )
            hard = table[table["loss"] == "hard"].sort_values("temperature")
            if len(hard):
                fig.add_trace(
                    go.Scatter(
                        x=hard["temperature"],
                        y=hard[m],
                        mode="markers+lines",
                        name=f"hard: {m}",
                        line={"dash": "dot", "color": colours[m]},
                        marker={"symbol": "diamond", "size": 10, "color": colours[m]},
                    ),
                    1,
                    col,
                )
    fig.update_xaxes(type="log", title_text="tau")
    fig.update_layout(
        title="The temperature sweep (dashed: Simple; dotted: HardSimple; diamonds: hard loss)",
        height=400,
        showlegend=True,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def plane_figure(table):
    """The runs in the uniformity-tolerance plane, the contrastive ones coloured by tau."""
    import plotly.graph_objects as go

    c = _contrastive_rows(table)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=c["uniformity"],
            y=c["tolerance"],
            mode="lines+markers+text",
            name="contrastive",
            text=[f"{t:g}" for t in c["temperature"]],
            textposition="top center",
            line={"color": "lightgrey"},
            marker={
                "size": 14,
                "color": np.log10(c["temperature"].astype(float)),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {
                    "title": "tau",
                    "tickvals": np.log10([0.02, 0.05, 0.1, 0.3, 1]),
                    "ticktext": ["0.02", "0.05", "0.1", "0.3", "1"],
                },
            },
        )
    )
    symbols = {"simple": "x", "hard": "diamond", "hard_simple": "star"}
    for name, row in table[table["loss"] != "contrastive"].iterrows():
        fig.add_trace(
            go.Scatter(
                x=[row["uniformity"]],
                y=[row["tolerance"]],
                mode="markers+text",
                name=name,
                text=[name],
                textposition="bottom center",
                marker={"size": 13, "symbol": symbols[row["loss"]]},
            )
        )
    fig.update_layout(
        title="The uniformity-tolerance dilemma: tau moves the contrastive loss along a trade-off",
        xaxis_title="uniformity (-L_unif, higher = more uniform)",
        yaxis_title="tolerance (same-class cosine)",
        height=480,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def spheres_figure(embeddings: Mapping[str, Tensor], labels: Tensor, title: str = ""):
    """3-D embeddings on unit spheres side by side (one scene per entry), coloured by class."""
    from plotly.subplots import make_subplots

    from ..viz import sphere

    names = list(embeddings)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        specs=[[{"type": "scene"}] * len(names)],
        subplot_titles=names,
        horizontal_spacing=0.01,
    )
    for col, name in enumerate(names, start=1):
        for i, trace in enumerate(sphere(embeddings[name], labels).data):
            trace.showlegend = col == 1 and i > 0
            fig.add_trace(trace, 1, col)
    axis = {"range": [-1.1, 1.1], "showticklabels": False, "title": ""}
    scene = {"xaxis": axis, "yaxis": axis, "zaxis": axis, "aspectmode": "cube"}
    fig.update_layout(
        title=title,
        height=460,
        margin={"l": 0, "r": 0, "t": 60, "b": 0},
        legend={"itemsizing": "constant", "title": "class"},
        **{f"scene{'' if c == 1 else c}": scene for c in range(1, len(names) + 1)},
    )
    return fig


def paper_figure(toy: Mapping[str, Mapping[str, float]], toy_label: str = "toy (digits)"):
    """The paper's Table 1 and the toy, setting by setting, each scaled to [0, 1] per metric.

    Scaling (min-max within each dataset and metric) puts ImageNet accuracy in % and the toy's
    accuracy in [0, 1] on one axis: compare the *shapes* of the lines; hover for raw values.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    settings = list(PAPER_TABLE1["CIFAR-10"]["acc"])
    table = paper_vs_toy(toy)
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("accuracy", "uniformity", "tolerance"),
        horizontal_spacing=0.06,
    )
    greys = ["#9ecae1", "#6baed6", "#4292c6", "#08519c"]
    for col, key in enumerate(("acc", "unif", "tol"), start=1):
        sources = {data: [PAPER_TABLE1[data][key][n] for n in settings] for data in PAPER_TABLE1}
        sources[toy_label] = [float(table.loc[n, f"toy {key}"]) for n in settings]
        for i, (data, vals) in enumerate(sources.items()):
            v = np.asarray(vals, dtype=float)
            lo, hi = np.nanmin(v), np.nanmax(v)
            scaled = (v - lo) / (hi - lo) if hi > lo else v * 0
            is_toy = data == toy_label
            fig.add_trace(
                go.Scatter(
                    x=settings,
                    y=scaled,
                    name=data,
                    legendgroup=data,
                    showlegend=col == 1,
                    mode="lines+markers",
                    customdata=v,
                    hovertemplate="%{x}: %{customdata:.3f}<extra>" + data + "</extra>",
                    line={
                        "color": "#d62728" if is_toy else greys[i % 4],
                        "width": 4 if is_toy else 1.5,
                    },
                    marker={"size": 9 if is_toy else 5},
                ),
                1,
                col,
            )
    fig.update_yaxes(title_text="scaled within each dataset (0 = lowest, 1 = highest)", col=1)
    fig.update_layout(
        title="Paper (Table 1, four datasets) against the toy, setting by setting",
        height=430,
        legend={"orientation": "h", "y": -0.3},
    )
    return fig
