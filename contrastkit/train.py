"""``fit``: the one training loop every method and notebook uses.

A method is an ``nn.Module`` with ``loss(batch) -> Tensor`` (and ``embed(x) -> Tensor``); it may
define ``after_step(step)`` for momentum updates or queues. The data stay on the device as
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

``cli_train`` is the ``contrastkit train`` command.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from . import distributed
from .data.base import ImageData

__all__ = ["History", "fit", "embed", "evaluate", "cli_train"]

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
    device = tensors[0].device
    while True:
        idx = torch.randperm(n, generator=generator)[:batch_size]  # the CPU generator: resumable
        if device.type == "cuda":  # from pinned memory the copy is async: no per-step sync
            idx = idx.pin_memory().to(device, non_blocking=True)
        else:
            idx = idx.to(device)
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
        _save_atomic(state, ckpt)

    def run_eval(step: int) -> None:
        if eval_fn is None or rank != 0:
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
            loss = method.loss(batch)
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


# -- the `contrastkit train` command -----------------------------------------------------------

N_TEST = 1_000  # held-out images for the final kNN accuracy
DEFAULT_STEPS = 500
DEFAULT_LR = 2e-3  # Adam; the rate the `shapes` defaults were calibrated with (batch 256)
DEFAULT_N_TRAIN = 9_000  # for generated data (`shapes`)
#: Methods ``contrastkit train`` can build: their first argument is an image encoder and they
#: learn from ``(x, y)`` image batches (only ``supcon`` reads ``y``). The others need data or
#: parts the command does not make (captions, other modalities, pseudo-labels, clients): they
#: are trained in their notebooks.
CLI_METHODS = (
    "simclr",
    "align_uniform",
    "wang_liu",
    "moco",
    "byol_simsiam",
    "supcon",
    "cacr",
    "hallucinator",
)


def _train_test(name: str, n_train: int | None, image_size: int | None, seed: int = 0):
    """The training set and ``N_TEST`` held-out images of a dataset (the data seed is fixed)."""
    from . import data as datasets

    if name not in datasets.NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(datasets.NAMES)}")
    if name == "shapes":  # generated: the test set is drawn from a disjoint seed
        train = datasets.load(name, n=n_train or DEFAULT_N_TRAIN, image_size=image_size)
        test = datasets.load(name, train=False, n=N_TEST, image_size=image_size)
        return train, test
    if name == "digits":  # one small set (1,797 images): hold out at most half
        full = datasets.load(name, image_size=image_size)
        train, test = full.split(min(N_TEST, len(full) // 2), seed=seed)
    else:
        train = datasets.load(name, train=True)
        test = datasets.load(name, train=False)
        g = torch.Generator().manual_seed(seed)
        test = test.subset(torch.randperm(len(test), generator=g)[:N_TEST].to(test.x.device))
        if image_size is not None and image_size != train.x.shape[-1]:
            raise ValueError(
                f"{name} comes at {train.x.shape[-1]} px; --image-size {image_size} is not "
                "supported for it (leave it out)"
            )
    if n_train is not None:
        if n_train > len(train):
            raise ValueError(f"--n-train {n_train} is more than {name}'s {len(train)} images")
        train = train.subset(slice(0, n_train))
    return train, test


def _build_method(key: str, in_channels: int, data_name: str, temperature: float | None):
    from . import methods
    from .models import SmallConvNet

    cls = methods.get(key)
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    if temperature is not None:
        if "temperature" not in accepted:
            raise ValueError(f"method {key!r} has no temperature; leave out --temperature")
        kwargs["temperature"] = temperature
    if data_name in ("digits", "shapes") and "augment" in accepted:
        # digits: 8 px grey, shifts and pixel dropout, no colour; shapes: colour is a nuisance
        kwargs["augment"] = data_name
    return cls(SmallConvNet(in_channels), **kwargs)


def _augment_name(method: nn.Module) -> str | None:
    """The preset name of a method's augmentation, or None (a custom config or none)."""
    config = getattr(method, "augment", None)
    return config if isinstance(config, str) else None


def _final_metrics(method: nn.Module, train: ImageData, test: ImageData, seed: int) -> dict:
    """kNN accuracy (k=20) of the encoder and of raw pixels; alignment and uniformity."""
    from . import metrics
    from .augment import views

    ztr, zte = embed(method, train.x), embed(method, test.x)
    xtr, xte = train.x.flatten(1).cpu(), test.x.flatten(1).cpu()
    ytr, yte = train.y.cpu(), test.y.cpu()
    torch.manual_seed(seed)
    config = getattr(method, "augment", None)
    if not isinstance(config, (str, type(None))) and not hasattr(config, "crop_scale"):
        config = None
    v1, v2 = views(test.x, 2, config)
    z1, z2 = embed(method, v1), embed(method, v2)
    return {
        "knn": metrics.knn_accuracy(ztr, ytr, zte, yte, k=20),
        "knn_raw_pixels": metrics.knn_accuracy(xtr, ytr, xte, yte, k=20),
        "alignment": float(metrics.alignment(z1, z2)),
        "uniformity": float(metrics.uniformity(zte)),
        "alignment_raw_pixels": float(metrics.alignment(v1.flatten(1).cpu(), v2.flatten(1).cpu())),
        "uniformity_raw_pixels": float(metrics.uniformity(xte)),
    }


def _write_json_atomic(obj: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def cli_train(args: argparse.Namespace) -> int:
    """``contrastkit train METHOD --data NAME ...``: train, checkpoint, report kNN accuracy.

    Builds ``METHOD`` on a :class:`~contrastkit.models.SmallConvNet` (input channels from the
    data), trains it with :func:`fit` (progress bar; ``--out/checkpoint.pt`` written atomically
    every 100 steps and at the end; ``--resume`` continues it), then prints and writes
    ``--out/metrics.json``: kNN accuracy (k=20) on ``N_TEST`` held-out images against raw
    pixels' kNN, alignment and uniformity (both: lower is better). Defaults: 500 steps, batch
    256, Adam lr 2e-3, seed 0, 9,000 generated 32 px training images with the ``"shapes"``
    augmentation preset (``digits`` gets ``"digits"``), out
    ``runs/<method>-<data>-seed<seed>``. Under ``torchrun`` the batch is per rank.

    Raises:
        KeyError: unknown method. ValueError: unknown dataset, a bad combination, or an
        existing checkpoint without ``--resume``.
    """
    from . import methods
    from .utils import seed_everything

    methods.get(args.method)  # unknown method: fail before any slow work
    if args.method not in CLI_METHODS:
        raise ValueError(
            f"method {args.method!r} is not trained by `contrastkit train` (it needs more than "
            f"an image encoder and image batches); run its notebook: contrastkit notebooks "
            f"--only {args.method}. This command trains: {', '.join(CLI_METHODS)}"
        )
    seed = 0 if args.seed is None else args.seed
    out = Path(args.out or f"runs/{args.method}-{args.data}-seed{seed}")
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not args.resume:
        raise ValueError(f"{ckpt} exists: pass --resume to continue it, or choose another --out")
    train_set, test_set = _train_test(args.data, args.n_train, args.image_size)
    batch_size = args.batch_size or min(256, len(train_set))

    owns_group = not distributed.is_distributed()
    device = distributed.init_from_env(args.device or "auto")
    rank, world = distributed.rank(), distributed.world_size()
    try:
        seed_everything(seed)  # the same initial weights on every rank
        method = _build_method(args.method, train_set.x.shape[1], args.data, args.temperature)
        steps = None if args.epochs else (args.steps or DEFAULT_STEPS)
        lr = args.lr or DEFAULT_LR
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            length = f"{args.epochs} epochs" if args.epochs else f"{steps} steps"
            ranks = f" x {world} ranks" if world > 1 else ""
            print(
                f"training {args.method} on {args.data} ({len(train_set):,} images, "
                f"{train_set.x.shape[-1]} px) for {length}, batch {batch_size}{ranks}, "
                f"lr {lr:g}, seed {seed}, {device} -> {out}",
                flush=True,
            )
        hist = fit(
            method,
            train_set,
            steps=steps,
            epochs=args.epochs,
            batch_size=batch_size,
            lr=lr,
            device=device,
            seed=seed,
            checkpoint=ckpt,
            resume=args.resume,
            desc=f"{args.method} on {args.data}",
            channels_last=True,
        )
        if rank != 0:
            return 0
        result = {
            "method": args.method,
            "data": args.data,
            "seed": seed,
            "steps": hist.step[-1] + 1 if hist.step else 0,
            "batch_size": batch_size,
            "world_size": world,
            "lr": lr,
            "temperature": getattr(method, "temperature", None),
            "augment": _augment_name(method),
            "image_size": int(train_set.x.shape[-1]),
            "n_train": len(train_set),
            "n_test": len(test_set),
            **_final_metrics(method, train_set, test_set, seed),
            "final_loss": hist.loss[-1] if hist.loss else None,
            "train_seconds": hist.seconds,
            "images_per_second": hist.samples_per_second,
            "device": str(device),
            "history": {"step": hist.step, "loss": hist.loss},
        }
        _write_json_atomic(result, out / "metrics.json")
        print(
            f"kNN accuracy (k=20, {len(test_set):,} held-out images): {result['knn']:.3f}   "
            f"raw pixels: {result['knn_raw_pixels']:.3f}\n"
            f"alignment {result['alignment']:.3f} (raw pixels {result['alignment_raw_pixels']:.3f})"
            f"   uniformity {result['uniformity']:.3f} "
            f"(raw pixels {result['uniformity_raw_pixels']:.3f}); lower is better for both\n"
            f"wrote {out / 'metrics.json'} and {ckpt}"
        )
        return 0
    finally:
        if owns_group:
            distributed.cleanup()
