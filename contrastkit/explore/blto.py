"""The BLTO notebook's experiment and explorer: poisoned victims, their probes, the blur defence.

The victim's side of the threat, at toy scale: ``train_victim`` pre-trains SimCLR on a (possibly
poisoned) set; ``victim_predictor`` adds the downstream step, a linear probe on frozen features
(``metrics.fit_linear_probe``), so that triggered images can be classified; ``measure_victim``
reads its clean accuracy, attack success rate and target shift; ``poisoning_experiment`` runs the
clean victim and one poisoned victim per trigger (plus one trained with a stronger augmentation).
``defence_state`` / ``trigger_state`` / ``draw`` are the explorer's pure update: the learned
trigger at another budget, the inputs blurred before the encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import torch
from torch import Tensor, nn

from ..augment import AugmentConfig
from ..evaluation import embed
from ..methods.blto import (
    TriggerGenerator,
    attack_success_rate,
    blur_filter,
    poison_dataset,
    target_shift,
)
from ..methods.simclr import SimCLR
from ..metrics import fit_linear_probe
from ..train import fit
from ..utils import seed_everything

__all__ = [
    "defence_state",
    "draw",
    "measure_victim",
    "poisoning_experiment",
    "train_victim",
    "trigger_state",
    "victim_predictor",
]

Predict = Callable[[Tensor], Tensor]


def victim_predictor(encoder: nn.Module, x: Tensor, y: Tensor) -> Predict:
    """The victim's downstream step: ``images -> classes`` through ``encoder`` and a linear probe.

    The probe is ``metrics.fit_linear_probe`` on the frozen features of ``x`` (one pass, eval
    mode); the returned function embeds its images the same way and classifies them (on the
    CPU).
    """
    probe = fit_linear_probe(embed(encoder, x, batch_size=len(x)), y)
    return lambda images: probe(embed(encoder, images, batch_size=max(1, len(images))))


def train_victim(
    x_train: Tensor,
    make_encoder: Callable[[], nn.Module],
    steps: int,
    batch_size: int,
    lr: float,
    device: Any,
    seed: int,
    augment: AugmentConfig | str = "shapes",
    desc: str = "victim",
) -> SimCLR:
    """SimCLR pre-trained on ``x_train`` (the victim never sees labels), seeded with ``seed``."""
    seed_everything(seed)
    m = SimCLR(make_encoder(), temperature=0.5, augment=augment).to(device)
    fit(m, x_train, steps=steps, batch_size=batch_size, lr=lr, device=device, seed=seed, desc=desc)
    return m


def measure_victim(
    m: SimCLR, train: Any, test: Any, target: int, trigger: Callable | None = None
) -> tuple[dict[str, float], Predict]:
    """Clean accuracy and false-target rate of a victim's probe; with a trigger, ASR and shift.

    Returns:
        ``({"clean acc", "false-target rate"[, "ASR", "target shift"]}, predict)``.
    """
    predict = victim_predictor(m.encoder, train.x, train.y)
    out = {
        "clean acc": float((predict(test.x).cpu() == test.y.cpu()).float().mean()),
        "false-target rate": attack_success_rate(predict(test.x).cpu(), test.y.cpu(), target),
    }
    if trigger is not None:
        others = test.x[test.y != target]
        out["ASR"] = attack_success_rate(predict(trigger(test.x)).cpu(), test.y.cpu(), target)
        out["target shift"] = target_shift(
            m.encoder, others, trigger(others), test.x[test.y == target], test.x
        )
    return out, predict


def poisoning_experiment(
    train: Any,
    test: Any,
    triggers: dict[str, Callable[[Tensor], Tensor]],
    target: int,
    rate: float,
    make_encoder: Callable[[], nn.Module],
    steps: int,
    batch_size: int,
    lr: float,
    device: Any,
    seed: int = 0,
    augment: AugmentConfig | str = "shapes",
    defended: tuple[str, AugmentConfig | str] | None = None,
    surrogate: nn.Module | None = None,
) -> dict[str, Any]:
    """A clean victim and one victim per trigger, poisoned at ``rate``; each measured.

    Every victim is seeded with ``seed + 1000`` (not the surrogate's initialisation or batches);
    the poisoned rows are picked with ``seed``. Each trigger is also measured on the clean victim
    (how much of its effect needs the poisoning) and, given the attacker's ``surrogate`` encoder,
    there.

    Args:
        train, test: labelled images (``.x``, ``.y``); the victims pre-train on ``train.x``.
        triggers: ``{name: images -> triggered images}``, in the order to train them.
        target, rate: the target class and the poisoning rate.
        make_encoder: builds a victim's encoder. steps, batch_size, lr, device: ``fit``'s.
        augment: the victims' augmentation.
        defended: ``(trigger name, augmentation)``: one more victim on that trigger's poisoned
            set, trained with a stronger augmentation (the defence), named ``"<name>, defended"``.
        surrogate: the attacker's surrogate encoder, for ``surrogate_shift``.

    Returns:
        ``{"victims", "results", "predictors", "poisoned" (the last trigger's poisoned rows),
        "surrogate_shift" (None without a surrogate)}``; ``results[name]`` as in
        :func:`measure_victim`, plus ``"ASR on clean victim"`` and ``"shift on clean victim"``.
    """
    victim_seed = seed + 1000
    fit_args = dict(steps=steps, batch_size=batch_size, lr=lr, device=device, seed=victim_seed)
    others = test.x[test.y != target]
    victims, results, predictors = {}, {}, {}
    victims["clean"] = train_victim(train.x, make_encoder, augment=augment,
                                    desc="victim: clean data", **fit_args)  # fmt: skip
    results["clean"], predictors["clean"] = measure_victim(victims["clean"], train, test, target)
    poisoned = None
    for name, trig in triggers.items():
        x_poisoned, poisoned = poison_dataset(train.x, train.y, target, rate, trig, seed=seed)
        victims[name] = train_victim(x_poisoned, make_encoder, augment=augment,
                                     desc=f"victim: {name}-poisoned", **fit_args)  # fmt: skip
        results[name], predictors[name] = measure_victim(victims[name], train, test, target, trig)
        if defended is not None and name == defended[0]:
            key = f"{name}, defended"
            desc = f"victim: {name}, stronger aug."
            victims[key] = train_victim(x_poisoned, make_encoder, augment=defended[1], desc=desc,
                                        **fit_args)  # fmt: skip
            results[key], predictors[key] = measure_victim(victims[key], train, test, target, trig)
    # how much comes from the poisoning: each trigger on the victim that never saw it
    for name, trig in triggers.items():
        results[name]["ASR on clean victim"] = attack_success_rate(
            predictors["clean"](trig(test.x)).cpu(), test.y.cpu(), target
        )
        results[name]["shift on clean victim"] = target_shift(
            victims["clean"].encoder, others, trig(others), test.x[test.y == target], test.x
        )
    surrogate_shift = None
    if surrogate is not None:  # did the bi-level optimisation reach its goal in its surrogate?
        surrogate_shift = {
            name: target_shift(surrogate, others, trig(others), test.x[test.y == target], test.x)
            for name, trig in triggers.items()
        }
    return {"victims": victims, "results": results, "predictors": predictors,
            "poisoned": poisoned, "surrogate_shift": surrogate_shift}  # fmt: skip


def defence_state(
    predict: Predict, x_clean: Tensor, y: Tensor, x_triggered: Tensor, target: int, sigma: float
) -> dict:
    """What the blur defence does at one ``sigma``: the widget's update, a pure function.

    Args:
        predict: ``images -> predicted classes`` (the victim's encoder + linear probe).
        x_clean, y: clean test images and their classes; x_triggered: the same images triggered.
        target: the target class. sigma: the blur in pixels.

    Returns:
        ``{"sigma", "clean_acc", "asr"}``.
    """
    with torch.no_grad():
        p_clean = predict(blur_filter(x_clean, sigma))
        p_trig = predict(blur_filter(x_triggered, sigma))
    return {
        "sigma": float(sigma),
        "clean_acc": float((p_clean.cpu() == y.cpu()).float().mean()),
        "asr": attack_success_rate(p_trig.cpu(), y.cpu(), target),
    }


def trigger_state(
    predict: Predict,
    x: Tensor,
    y: Tensor,
    generator: TriggerGenerator,
    target: int,
    eps: float,
    sigma: float,
) -> dict:
    """The explorer's update (a pure function): the learned trigger scaled to budget ``eps``,
    the blur defence at ``sigma``; returns the triggered images and ``defence_state``'s numbers."""
    with torch.no_grad():
        x_trig = generator(x, eps) if eps > 0 else x
    return {"images": x_trig, **defence_state(predict, x, y, x_trig, target, sigma)}


def draw(
    predict: Predict,
    x: Tensor,
    y: Tensor,
    generator: TriggerGenerator,
    target: int,
    eps: float,
    sigma: float,
    n_show: int = 8,
) -> go.Figure:
    """The first ``n_show`` triggered images in a row; ASR and clean accuracy in the title."""
    s = trigger_state(predict, x, y, generator, target, eps, sigma)
    size = x.shape[-1]
    row = s["images"][:n_show].permute(0, 2, 3, 1).cpu().numpy().transpose(1, 0, 2, 3)
    fig = go.Figure(go.Image(z=row.reshape(size, -1, 3) * 255))
    return fig.update_layout(
        height=220, xaxis_visible=False, yaxis_visible=False,
        title=f"eps={eps * 255:.0f}/255, blur={s['sigma']:.2f} px: ASR {s['asr']:.3f}, "
        f"clean accuracy {s['clean_acc']:.3f}",
    )  # fmt: skip
