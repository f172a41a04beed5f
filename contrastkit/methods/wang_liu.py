"""Wang & Liu: the contrastive loss is hardness-aware, and its temperature trades uniformity for
tolerance.

Reference: Feng Wang, Huaping Liu, "Understanding the Behaviour of Contrastive Loss", CVPR 2021,
https://arxiv.org/abs/2012.09740.

With ``s_ij`` the cosine of anchor i and candidate j, ``s_ii`` its positive, ``t`` the
temperature::

    L(i)         = -log( exp(s_ii/t) / (exp(s_ii/t) + sum_{k != i} exp(s_ik/t)) )
    dL/ds_ij     = P_ij / t,  P_ij = exp(s_ij/t) / (exp(s_ii/t) + sum_k exp(s_ik/t))
    r_i(s_ij)    = exp(s_ij/t) / sum_{k != i} exp(s_ik/t)     (share of the push on negative j)

``r_i`` is a Boltzmann distribution over the negatives: small ``t`` puts all the push on the
nearest negatives (t -> 0: a margin-0 triplet loss on the hardest one), large ``t`` spreads it
evenly (t -> inf: the "simple" loss ``-s_ii + lam * mean_j s_ij``). Small ``t`` gives uniform
embeddings but pushes apart semantically similar samples (low tolerance); large ``t`` is
tolerant but less uniform. The *hard contrastive loss* keeps only each anchor's hardest
negatives (those above its upper-``alpha`` quantile), which restores uniformity at a large,
tolerant ``t``::

    L_hard(i)    = -log( exp(s_ii/t) / (exp(s_ii/t) + sum_{s_ik >= s_alpha(i)} exp(s_ik/t)) )
    L_simple(i)  = -s_ii + lam * mean_{k != i} s_ik           (HardSimple: mean over the hardest)

Measured with uniformity ``-L_unif = -log E exp(-2 ||f(x) - f(y)||^2)`` (higher = more uniform)
and tolerance, the mean cosine of same-class pairs (higher = classes kept together).

Scaled down (card 11 of the reading list): scikit-learn's 8x8 digits, standardised per pixel,
1,400 train / 397 test; an MLP 64-256-256-32 ending in ``BatchNorm1d(affine=False)`` instead of
a ResNet-18 (without that BatchNorm the hard losses stay collapsed at this scale); in-batch
SimCLR negatives (batch 256, 510 negatives) instead of an NPID memory bank; Adam 1e-3 for
20 epochs instead of SGD for 200; the hard losses keep the top 51 of 510 negatives (10%; the
paper keeps 4,095 of ~50,000, about 8%); the simple loss averages its negatives (the paper sums
them with a small lam, which is the same up to the scale of lam).

What held at this scale (the notebook's section 8): uniformity falls and tolerance rises with
t from 0.1 to 1; the simple loss is much worse; the hard loss at t = 1 is as uniform as the
ordinary loss at t = 0.1. The paper's reverse U in accuracy is not robust inside its range
(0.07-1): accuracy is flat up to 0.1 and then falls; a left branch appears only below it
(t = 0.02), where the loss nears its triplet limit and uniformity drops too.

Besides the method, this module holds what the ``wang_liu`` notebook trains and compares: the
standardised digits (:func:`digits_data`), a temperature / loss sweep (:func:`run_sweep`,
:func:`summarise`), and the paper's Table 1 with its trends (:data:`PAPER_TABLE1`,
:func:`paper_vs_toy`, :func:`trend_table`). The closed-form temperature explorer and the
notebook's figures live in :mod:`contrastkit.viz.temperature`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..data.base import ImageData
from ..losses import hard_contrastive, nt_xent, simple_contrastive
from ..utils import check_temperature
from .base import Method, images

__all__ = [
    "LOSSES",
    "PAPER_TABLE1",
    "WangLiu",
    "digits_data",
    "parse_setting",
    "run_sweep",
    "summarise",
    "TRENDS",
    "trend_table",
    "paper_vs_toy",
]

#: The four objectives of the paper: ordinary, simple (t -> inf), hard, and hard simple.
LOSSES = ("contrastive", "simple", "hard", "hard_simple")


class WangLiu(Method):
    """An encoder trained with one of Wang & Liu's four losses on two views per image.

    There is no projection head: like the paper, the embedding that is measured (uniformity,
    tolerance, probes) is the one the loss sees.

    Args:
        encoder: maps images to ``(N, D)`` embeddings, e.g. ``MLP(64, (256, 256), 32,
            out_bn=True)``.
        loss: ``"contrastive"`` (NT-Xent), ``"simple"``, ``"hard"`` or ``"hard_simple"``.
        temperature: ``t > 0`` for the contrastive and hard losses (ignored by the simple ones).
        k: the hard losses keep each anchor's ``k`` hardest negatives, or
        quantile: that upper fraction of them (default 0.1 when neither is given).
        lam: weight of the negative term of the simple losses.
        augment: an ``AugmentConfig`` or preset name; ``"digits"`` for standardised digits.

    Raises:
        ValueError: an unknown loss, a bad temperature, or both ``k`` and ``quantile``.

    Example:
        >>> enc = MLP(64, (256, 256), 32, out_bn=True)
        >>> method = WangLiu(enc, loss="hard", temperature=1.0, k=51)
        >>> fit(method, train, epochs=20)
    """

    def __init__(
        self,
        encoder: nn.Module,
        loss: str = "contrastive",
        temperature: float = 0.5,
        k: int | None = None,
        quantile: float | None = None,
        lam: float = 1.0,
        augment: AugmentConfig | str = "digits",
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        check_temperature(temperature)
        if k is not None and quantile is not None:
            raise ValueError("give at most one of k and quantile")
        if loss.startswith("hard") and k is None and quantile is None:
            quantile = 0.1
        self.encoder = encoder
        self.loss_name = loss
        self.temperature = float(temperature)
        self.k, self.quantile, self.lam = k, quantile, lam
        self.augment = augment

    def objective(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The chosen loss of two ``(N, D)`` batches of paired embeddings."""
        hard = {"k": self.k, "quantile": self.quantile}
        if self.loss_name == "contrastive":
            return nt_xent(z1, z2, self.temperature)
        if self.loss_name == "hard":
            return hard_contrastive(z1, z2, self.temperature, **hard)
        if self.loss_name == "simple":
            return simple_contrastive(z1, z2, self.lam)
        return simple_contrastive(z1, z2, self.lam, **hard)

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        v1, v2 = views(x, 2, self.augment)
        z1, z2 = self.encoder(torch.cat([v1, v2])).chunk(2)  # one pass: shared BN statistics
        return self.objective(z1, z2)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)


# ----------------------------------------------------------------------------------------------
# Data and the sweep


def digits_data(
    n_test: int = 397, seed: int = 0, device: str | torch.device = "cpu"
) -> tuple[ImageData, ImageData]:
    """scikit-learn's digits split into (train, test), standardised per pixel with train stats.

    Pixels that never vary (the corners) keep a scale of 1. Use the ``"digits"`` augmentation
    preset with these (it does not clip to ``[0, 1]``).
    """
    from ..data import load_digits

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


def digits_mlp(out_dim: int = 32, hidden: Sequence[int] = (256, 256)) -> nn.Module:
    """Card 11's encoder: MLP 64-256-256-out_dim ending in ``BatchNorm1d(affine=False)``."""
    from ..models import MLP

    return MLP(64, hidden, out_dim, out_bn=True)


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
    from ..train import evaluate, fit
    from ..utils import seed_everything

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
            method.eval()
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
                with torch.no_grad():
                    row["z"] = method.embed(test.x).detach().float().cpu()
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


#: The paper's Table 1: linear accuracy (%), -L_unif and tolerance. C = contrastive at tau,
#: H = hard contrastive at tau. Read from the paper's text (card 11).
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


METHOD = WangLiu
