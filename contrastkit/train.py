"""``fit``: the one training loop every method and notebook uses.

A method follows the contract of :mod:`contrastkit.methods.base`: ``loss(batch)`` returns a Tensor,
or ``(Tensor, dict[str, float])`` whose numbers ``fit`` logs in ``History.metrics``; an optional
``after_step(step)`` runs after each optimiser step (momentum updates, queues, inner loops).
``fit`` duck-types ``loss``, so any ``nn.Module`` with one trains. The data stay on the device as
tensors and batches are drawn by index, so there is no DataLoader and no worker process.

Reproducibility: ``fit`` seeds torch before building nothing but the sampler, so build the
method after ``seed_everything(seed)`` for identical initial weights. On CPU the same seed gives
the same numbers; a checkpoint stores the model, the optimiser, the step, the history and every
random state, so ``resume=True`` continues the very same run.

Several processes (``torchrun --nproc_per_node 2 ...``): ``fit`` joins the process group from
the environment, each rank draws its own ``batch_size`` rows (seeded by ``seed + rank``) and
makes its own views, gradients are averaged over ranks with one all-reduce per step (what DDP
does, without overlapping it with backward), and only rank 0 shows progress, evaluates and
writes checkpoints. Losses that call :mod:`contrastkit.distributed`'s global versions (SimCLR
does) contrast against the negatives of every rank. On CUDA, BatchNorm layers become
``SyncBatchNorm`` (SimCLR's "global BN"); gloo on CPU has no SyncBatchNorm, so BN is per rank.

Evaluation (embeddings, probes) lives in :mod:`contrastkit.evaluation`; the ``contrastkit train``
command in :mod:`contrastkit.cli.train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from . import distributed
from .data.base import ImageData
from .files import atomic_write
from .utils import eval_mode

__all__ = ["History", "fit"]

Batch = Tensor | tuple[Tensor, ...]


@dataclass
class History:
    """What ``fit`` measured: the loss per step and any evaluations along the way."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # each {"step": s, **metrics}
    #: what ``loss`` returned beside the loss, at the logged steps: name -> values (the first
    #: value of a name is at ``step[len(step) - len(values)]`` when it appears later)
    metrics: dict[str, list[float]] = field(default_factory=dict)
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
            "metrics": self.metrics,
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
    device = tensors[0].device
    while True:
        idx = torch.randperm(n, generator=generator)[:batch_size]  # the CPU generator: resumable
        if device.type == "cuda":  # from pinned memory the copy is async: no per-step sync
            idx = idx.pin_memory().to(device, non_blocking=True)
        else:
            idx = idx.to(device)
        picked = tuple(t[idx] for t in tensors)
        yield picked[0] if bare else picked


def split_loss(out: Tensor | tuple[Tensor, dict[str, float]]) -> tuple[Tensor, dict[str, float]]:
    """``(loss, metrics)`` from what ``Method.loss`` returned (a Tensor alone: no metrics).

    Raises:
        TypeError: if ``out`` is neither a Tensor nor a ``(Tensor, dict)`` pair.
    """
    if isinstance(out, Tensor):
        return out, {}
    if (
        isinstance(out, tuple)
        and len(out) == 2
        and isinstance(out[0], Tensor)
        and isinstance(out[1], dict)
    ):
        return out[0], {str(k): float(v) for k, v in out[1].items()}
    raise TypeError(
        f"loss(batch) must return a Tensor or (Tensor, dict[str, float]), got {type(out).__name__}"
    )


def _lr_at(step: int, total: int, base: float, schedule: str, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "cosine":
        progress = (step - warmup) / max(1, total - warmup)
        return base * 0.5 * (1 + math.cos(math.pi * progress))
    return base


def _average_gradients(params: list[nn.Parameter], loss: Tensor) -> Tensor:
    """Average the gradients (and the loss) over ranks in one all-reduce; return the mean loss.

    A parameter without a gradient on this rank contributes zeros and stays without one.
    """
    import torch.distributed as dist

    dtype = loss.dtype
    for p in params:
        dtype = torch.promote_types(dtype, p.dtype)
    parts = [
        (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dtype)
        for p in params
    ]
    flat = torch.cat([*parts, loss.detach().reshape(1).to(dtype)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.numel()
        if p.grad is not None:
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n
    return flat[-1]


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
    sync_batchnorm: bool = True,
    channels_last: bool = False,
) -> History:
    """Train ``method`` by minimising ``method.loss(batch)`` on random batches of ``data``.

    Args:
        method: an ``nn.Module`` with ``loss(batch)`` returning a Tensor or
            ``(Tensor, dict[str, float])`` (see :mod:`contrastkit.methods.base`); optional
            ``after_step(step)``.
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
        sync_batchnorm: under torchrun on CUDA, turn BatchNorm into SyncBatchNorm.
        channels_last: keep conv weights in ``channels_last`` memory format: 1.3-1.5x faster
            convolutions for the small ConvNet on CPU (benchmarks/README.md), and the format
            GPU tensor cores want. Numbers differ from the default format by float rounding.

    Under torchrun (see the module doc) ``batch_size`` is per rank, ``history.loss`` is the
    mean over ranks and ``history.images`` counts every rank's rows.

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
    dev = distributed.init_from_env(device)  # just resolves "auto" outside torchrun
    is_dist, rank, world = (
        distributed.is_distributed(),
        distributed.rank(),
        distributed.world_size(),
    )
    method.to(dev)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    if is_dist:
        import torch.distributed as dist

        if sync_batchnorm and dev.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(method)
        for t in method.state_dict().values():  # every rank starts from rank 0's weights
            dist.broadcast(t, src=0)
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

    # each rank its own batches and views; rank 0 (and a single process) uses `seed` itself
    gen = torch.Generator().manual_seed(seed + rank)
    torch.manual_seed(seed + rank)
    hist = History()
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        method.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rngs = state.get("rank_rng") or [state]
        if len(rngs) == world:
            gen.set_state(rngs[rank]["sampler_rng"])
            torch.set_rng_state(rngs[rank]["torch_rng"])
        else:  # resumed on a different number of ranks: fresh, still distinct, streams
            gen.manual_seed(seed + rank + 7919 * int(state["step"]))
            torch.manual_seed(seed + rank + 7919 * int(state["step"]))
        if dev.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        hist = History(**state["history"])
        start = int(state["step"])

    def save(step: int) -> None:
        if ckpt is None:
            return
        rngs = None
        if is_dist:  # a collective: every rank calls save at the same steps
            import torch.distributed as dist

            rngs = [None] * world
            mine = {"sampler_rng": gen.get_state(), "torch_rng": torch.get_rng_state()}
            dist.all_gather_object(rngs, mine)
            if rank != 0:
                return
        state = {
            "model": method.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "sampler_rng": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": hist.as_dict(),
        }
        if rngs is not None:
            state["rank_rng"] = rngs
        if dev.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        atomic_write(ckpt, lambda tmp: torch.save(state, tmp))

    def run_eval(step: int) -> None:
        if eval_fn is None or rank != 0:
            return
        with eval_mode(method), torch.no_grad():
            metrics = {k: float(v) for k, v in eval_fn(method).items()}
        hist.evals.append({"step": step, **metrics})

    end = total if stop_after is None else min(total, start + stop_after)
    stream = _batches(tensors, bare, batch_size, gen)
    method.train()
    bar = tqdm(
        range(start, end),
        initial=start,
        total=total,
        desc=desc or type(method).__name__,
        disable=not progress or rank != 0,
        leave=True,
    )
    t0 = time.perf_counter()
    seen = 0
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, total, lr, schedule, warmup)
        batch = next(stream)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss, extra = split_loss(method.loss(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        shown = loss.detach()
        if is_dist:  # one all-reduce: the gradients, and the loss riding along
            shown = _average_gradients(params, shown)
        logged = step % 10 == 0 or step == end - 1
        # checking is a host-device sync: every step on CPU (free), at logged steps elsewhere;
        # under torchrun every rank sees the same mean loss, so all stop together
        if (dev.type == "cpu" or logged) and not torch.isfinite(shown):
            raise FloatingPointError(
                f"loss became {float(shown)} at step {step}; lower lr or raise temperature"
            )
        opt.step()
        if hasattr(method, "after_step"):
            method.after_step(step)
        seen += batch_size * world
        # .item() syncs with the device; only pay for it when it is shown or kept
        if logged:
            value = float(shown)
            hist.step.append(step)
            hist.loss.append(value)
            hist.lr.append(opt.param_groups[0]["lr"])
            for name, v in extra.items():
                hist.metrics.setdefault(name, []).append(v)
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


def __getattr__(name: str):
    # Names that lived here before the evaluation module and the CLI package: still importable.
    if name in ("embed", "evaluate"):
        from . import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
