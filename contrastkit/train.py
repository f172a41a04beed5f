"""``fit``: the one training loop every method and notebook uses.

A method is an ``nn.Module`` with ``loss(batch) -> Tensor`` (and ``embed(x) -> Tensor``); it may
define ``after_step(step)`` for momentum updates or queues. The data stay on the device as
tensors and batches are drawn by index, so there is no DataLoader and no worker process.

Reproducibility: ``fit`` seeds torch before building nothing but the sampler, so build the
method after ``seed_everything(seed)`` for identical initial weights. On CPU the same seed gives
the same numbers; a checkpoint stores the model, the optimiser, the step, the history and every
random state, so ``resume=True`` continues the very same run.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .data.base import ImageData
from .utils import get_device

__all__ = ["History", "fit", "embed", "evaluate"]

Batch = Tensor | tuple[Tensor, ...]


@dataclass
class History:
    """What ``fit`` measured: the loss per step and any evaluations along the way."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # each {"step": s, **metrics}
    seconds: float = 0.0
    images: int = 0  # samples seen (one per row of a batch, whatever the number of views)

    @property
    def samples_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "step": self.step,
            "loss": self.loss,
            "lr": self.lr,
            "evals": self.evals,
            "seconds": self.seconds,
            "images": self.images,
        }


def _as_tensors(data: Tensor | ImageData | Sequence[Tensor]) -> tuple[tuple[Tensor, ...], bool]:
    """Normalise ``data`` to a tuple of equal-length tensors; flag whether it was a bare tensor."""
    if isinstance(data, ImageData):
        return (data.x, data.y), False
    if isinstance(data, Tensor):
        return (data,), True
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, Tensor) for t in data):
        n = data[0].shape[0]
        if any(t.shape[0] != n for t in data):
            raise ValueError(
                f"all tensors in data must have the same length, got {[t.shape[0] for t in data]}"
            )
        return tuple(data), False
    raise TypeError("data must be a Tensor, an ImageData, or a tuple of tensors of equal length")


def _batches(tensors: tuple[Tensor, ...], bare: bool, batch_size: int, generator: torch.Generator):
    """Endless random batches (sampled without replacement within a batch), on data's device."""
    n = tensors[0].shape[0]
    while True:
        idx = torch.randperm(n, generator=generator)[:batch_size].to(tensors[0].device)
        picked = tuple(t[idx] for t in tensors)
        yield picked[0] if bare else picked


def _lr_at(step: int, total: int, base: float, schedule: str, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "cosine":
        progress = (step - warmup) / max(1, total - warmup)
        return base * 0.5 * (1 + math.cos(math.pi * progress))
    return base


def _save_atomic(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)  # atomic on POSIX: a crash leaves the old checkpoint intact
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fit(
    method: nn.Module,
    data: Tensor | ImageData | Sequence[Tensor],
    *,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-6,
    optimizer: str = "adam",
    schedule: str = "constant",
    warmup: int = 0,
    device: str | torch.device = "auto",
    amp: bool = False,
    seed: int = 0,
    eval_fn: Callable[[nn.Module], dict] | None = None,
    eval_every: int | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train ``method`` by minimising ``method.loss(batch)`` on random batches of ``data``.

    Args:
        method: an ``nn.Module`` with ``loss(batch) -> Tensor``; optional ``after_step(step)``.
        data: a Tensor (batches are Tensors), an :class:`ImageData` (batches are ``(x, y)``)
            or a tuple of tensors (batches are tuples); moved to ``device``.
        steps: optimiser steps; or ``epochs``: passes over ``data`` (one of the two).
        batch_size: rows per batch (each method makes its own views of them).
        lr, weight_decay: optimiser settings. optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        schedule: ``"constant"`` or ``"cosine"`` (after ``warmup`` linear warm-up steps).
        device: ``"auto"`` picks cuda, then mps, then cpu.
        amp: bfloat16 autocast (on CUDA; on CPU it is slower and off by default).
        seed: seeds the batch sampler and the augmentations.
        eval_fn: called as ``eval_fn(method)`` every ``eval_every`` steps and at the end; its
            dict of floats goes to ``history.evals``.
        checkpoint: a file path; written atomically every ``checkpoint_every`` steps and at the
            end. resume: continue from ``checkpoint`` if it exists.
        stop_after: stop after this many steps of this call (to simulate an interruption).
        progress: show a tqdm bar (a widget in Jupyter, text in a terminal).

    Returns:
        The :class:`History`. The method is left on ``device`` in train mode.

    Raises:
        ValueError: for inconsistent arguments (both or neither of steps/epochs, bad sizes).

    Example:
        >>> hist = fit(SimCLR(SmallConvNet()), shapes.x, steps=200, batch_size=256)
    """
    from tqdm.auto import tqdm

    tensors, bare = _as_tensors(data)
    n = tensors[0].shape[0]
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps or epochs")
    if batch_size < 2 or batch_size > n:
        raise ValueError(f"batch_size must be in [2, {n}] (the data size), got {batch_size}")
    total = int(steps) if steps is not None else max(1, int(round(epochs * n / batch_size)))
    if total < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if not hasattr(method, "loss"):
        raise TypeError("method must define loss(batch) -> Tensor")
    dev = get_device(device)
    method.to(dev)
    tensors = tuple(t.to(dev) for t in tensors)

    params = [p for p in method.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {optimizer!r}")

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    hist = History()
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        method.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["sampler_rng"])
        torch.set_rng_state(state["torch_rng"])
        if dev.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        hist = History(**state["history"])
        start = int(state["step"])

    def save(step: int) -> None:
        if ckpt is None:
            return
        state = {
            "model": method.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "sampler_rng": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": hist.as_dict(),
        }
        if dev.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        _save_atomic(state, ckpt)

    def run_eval(step: int) -> None:
        if eval_fn is None:
            return
        was_training = method.training
        method.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in eval_fn(method).items()}
        method.train(was_training)
        hist.evals.append({"step": step, **metrics})

    end = total if stop_after is None else min(total, start + stop_after)
    stream = _batches(tensors, bare, batch_size, gen)
    method.train()
    bar = tqdm(
        range(start, end),
        initial=start,
        total=total,
        desc=desc or type(method).__name__,
        disable=not progress,
        leave=True,
    )
    t0 = time.perf_counter()
    seen = 0
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, total, lr, schedule, warmup)
        batch = next(stream)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = method.loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss became {float(loss)} at step {step}; lower lr or raise temperature"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if hasattr(method, "after_step"):
            method.after_step(step)
        seen += batch_size
        # .item() syncs with the device; only pay for it when it is shown or kept
        if step % 10 == 0 or step == end - 1:
            value = float(loss.detach())
            hist.step.append(step)
            hist.loss.append(value)
            hist.lr.append(opt.param_groups[0]["lr"])
            bar.set_postfix(loss=f"{value:.3f}")
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < total:
            run_eval(step + 1)
        if ckpt is not None and (step + 1) % checkpoint_every == 0:
            hist.seconds += time.perf_counter() - t0
            hist.images += seen
            t0, seen = time.perf_counter(), 0
            save(step + 1)
    bar.close()
    hist.seconds += time.perf_counter() - t0
    hist.images += seen
    if end == total:
        run_eval(total)
    save(end)
    return hist


@torch.no_grad()
def embed(
    method: nn.Module | Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 1024
) -> Tensor:
    """Embeddings of ``x`` in eval mode, in batches, returned on the CPU as float32.

    ``method`` is anything with ``embed(x)``, or a callable (e.g. an encoder).
    """
    fn = method.embed if hasattr(method, "embed") else method
    module = method if isinstance(method, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
        dev = next(module.parameters()).device
    else:
        dev = x.device
    out = [fn(x[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)]
    if module is not None:
        module.train(was_training)
    return torch.cat(out)


def evaluate(
    method: nn.Module | Callable[[Tensor], Tensor],
    train: ImageData,
    test: ImageData,
    k: int = 20,
    linear: bool = False,
) -> dict[str, float]:
    """kNN accuracy (and optionally a linear probe), uniformity and tolerance on ``test``.

    Returns:
        ``{"knn": ..., "linear": ... (if asked), "uniformity": -L_unif (higher = more uniform),
        "tolerance": ...}``.
    """
    from . import metrics

    ztr, zte = embed(method, train.x), embed(method, test.x)
    out = {"knn": metrics.knn_accuracy(ztr, train.y, zte, test.y, k=k)}
    if linear:
        out["linear"] = metrics.linear_probe_accuracy(ztr, train.y, zte, test.y)
    out["uniformity"] = float(-metrics.uniformity(zte))
    out["tolerance"] = float(metrics.tolerance(zte, test.y.cpu()))
    return out
