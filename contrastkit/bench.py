"""How fast does a method train? contrastkit's pipeline against the usual one, in one process.

Three pipelines train the same method (same encoder, projector, loss and optimiser, each from
the same seeded initial weights) and are timed over the same number of seconds after warm-up:

* ``contrastkit``: the data live as one tensor on the device; each step draws a batch of
  indices on the device, makes the views with :func:`contrastkit.augment.views` (whole-batch
  tensor ops) and runs forward, backward and the optimiser step. No per-step host-device sync.
* ``reference``: the usual recipe: PIL images, torchvision's per-sample transforms
  (RandomResizedCrop, flip, ColorJitter, RandomGrayscale, ToTensor; the same strengths as the
  method's augmentation config) applied twice per image in a ``DataLoader`` with ``workers``
  processes (default: ``os.cpu_count()``), then the same model step.
* ``bare``: the same model step on views made once in advance: the ceiling any data pipeline
  can reach.

The model step is the same in all three, so the ratios measure the data pipelines alone:
``channels_last`` memory format (faster convolutions on CPU and GPU), bf16 autocast on CUDA,
and ``torch.compile`` of the method's sub-modules when asked.

Throughput is images per second, one image being one row of the batch (two views each, as in
``fit``'s ``samples_per_second``). Each pipeline also reports images per CPU-second (the CPU
time of this process's threads, plus the DataLoader workers' for the reference): the work a
pipeline costs, which a busy machine changes much less than the wall-clock rate.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` during the timed window (tensors
only, the on-device dataset included); on CPU the peak resident set size (``VmHWM`` from
``/proc/self/status``, reset before the window through ``/proc/self/clear_refs``) and its
growth over the RSS at the start of the window, for this process only (the reference's
worker processes are reported separately, ``workers_rss_bytes``; their RSS counts the pages
they share with this process after the fork, so it overstates what they add).

Example::

    contrastkit bench simclr --data shapes --encoder smallconv --image-size 32 \\
        --batch-size 256 --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from . import methods
from .augment import PRESETS, AugmentConfig, views
from .data import load
from .models import build_encoder
from .utils import get_device, seed_everything

__all__ = ["PIPELINES", "bench", "cli_bench", "format_result", "reference_transform"]

PIPELINES = ("contrastkit", "reference", "bare")


# -- memory ------------------------------------------------------------------------------------


def _proc_kib(field: str, pid: int | str = "self") -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` in bytes (None where there is no /proc)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Memory:
    """Peak memory over a window: CUDA allocator peak on GPU, peak RSS on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.resettable = _reset_peak_rss()
            self.base = _proc_kib("VmRSS") or 0

    def stop(self) -> dict:
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
            return {
                "kind": "cuda max_memory_allocated",
                "peak_bytes": peak,
                "growth_bytes": peak - self.base,
            }
        peak = _proc_kib("VmHWM")
        if peak is None:  # no /proc: ru_maxrss is the lifetime peak (KiB on Linux)
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        kind = "peak RSS (VmHWM, reset)" if self.resettable else "peak RSS (lifetime)"
        return {"kind": kind, "peak_bytes": peak, "growth_bytes": max(0, peak - self.base)}


# -- the model step shared by the three pipelines ----------------------------------------------


@contextlib.contextmanager
def _given_views(method: nn.Module, supply: Callable[[int], list[Tensor]]) -> Iterator[None]:
    """Make ``method.loss`` use ready-made views: swap ``views`` in the method's modules.

    The modules are those of the method's class and its bases (a ``TwoViewMethod`` makes its
    views in ``methods.base``) that call ``contrastkit.augment.views``.
    """
    modules = {sys.modules[c.__module__] for c in type(method).__mro__}
    modules = [m for m in modules if getattr(m, "views", None) is views]
    if not modules:
        raise ValueError(
            f"bench needs a method that makes its views with contrastkit.augment.views; "
            f"{type(method).__name__} ({type(method).__module__}) does not"
        )
    for module in modules:
        module.views = lambda x, n=2, config=None, **overrides: supply(n)
    try:
        yield
    finally:
        for module in modules:
            module.views = views


def _build(
    key: str, encoder: str, in_channels: int, image_size: int, seed: int
) -> tuple[nn.Module, torch.optim.Optimizer]:
    seed_everything(seed)
    method = methods.get(key)(build_encoder(encoder, in_channels, image_size))
    return method, torch.optim.Adam(method.parameters(), lr=1e-3, weight_decay=1e-6)


def _prepare(method: nn.Module, device: torch.device, channels_last: bool, compile_: bool):
    method.to(device)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    if compile_:
        for name, child in list(method.named_children()):
            if any(True for _ in child.parameters()):
                setattr(method, name, torch.compile(child))
    method.train()


def _make_step(method, opt, device: torch.device, amp: bool) -> Callable[[object], Tensor]:
    def step(batch) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = method.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if hasattr(method, "after_step"):
            method.after_step(0)
        return loss.detach()  # never .item(): that would sync with the device every step

    return step


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _timed(
    next_batch: Callable[[], object],
    step: Callable[[object], Tensor],
    seconds: float,
    warmup: int,
    device: torch.device,
    helper_cpu: Callable[[], float] | None = None,
) -> dict:
    """Run ``warmup`` steps, then steps until ``seconds`` have passed; sync only at the ends.

    Also counts the CPU seconds spent (this process's threads plus ``helper_cpu()``, e.g.
    DataLoader workers): a measure of the work done that the machine's load hardly changes.
    """
    for _ in range(warmup):
        loss = step(next_batch())
    memory = _Memory(device)
    memory.start()

    def cpu() -> float:
        return time.process_time() + (helper_cpu() if helper_cpu else 0.0)

    cpu_start = cpu()
    steps, start = 0, time.perf_counter()
    while True:
        loss = step(next_batch())
        steps += 1
        if time.perf_counter() - start >= seconds:
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {
        "steps": steps,
        "seconds": elapsed,
        "cpu_seconds": cpu() - cpu_start,
        "last_loss": float(loss),
        "memory": memory.stop(),
    }


# -- the reference: torchvision per-sample transforms in DataLoader workers --------------------


def reference_transform(config: AugmentConfig | str | None, image_size: int):
    """torchvision's per-sample version of an :class:`AugmentConfig` (PIL in, tensor out).

    Crop, flip, rotation, colour jitter, grayscale and blur are mapped one to one; the fields
    torchvision has no PIL transform for (translate, noise, dropout, cutout) are left out.
    """
    from torchvision import transforms as T

    cfg = PRESETS[config or "simclr"] if not isinstance(config, AugmentConfig) else config
    ops: list = []
    if cfg.crop_scale is not None:
        ops.append(T.RandomResizedCrop(image_size, scale=cfg.crop_scale, ratio=cfg.crop_ratio))
    if cfg.flip:
        ops.append(T.RandomHorizontalFlip(cfg.flip))
    if cfg.rotate:
        ops.append(T.RandomRotation(cfg.rotate))
    if cfg.jitter:
        jitter = T.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue)
        ops.append(T.RandomApply([jitter], p=cfg.jitter))
    if cfg.grayscale:
        ops.append(T.RandomGrayscale(cfg.grayscale))
    if cfg.blur:
        radius = max(1, math.ceil(2 * cfg.blur_sigma[1]))
        blur = T.GaussianBlur(2 * radius + 1, sigma=cfg.blur_sigma)
        ops.append(T.RandomApply([blur], p=cfg.blur))
    ops.append(T.ToTensor())
    return T.Compose(ops)


class _TwoViews(torch.utils.data.Dataset):
    """PIL images; each item is ``(view1, view2, label)`` from an independent transform."""

    def __init__(self, x: Tensor, y: Tensor, transform) -> None:
        from PIL import Image

        pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        if pixels.shape[-1] == 1:
            self.images = [Image.fromarray(p[..., 0], mode="L") for p in pixels]
        else:
            self.images = [Image.fromarray(p, mode="RGB") for p in pixels]
        self.y = y.cpu()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = self.images[i]
        return self.transform(img), self.transform(img), self.y[i]


def _endless(loader) -> Iterator:
    while True:
        yield from loader


def _workers_rss(iterator) -> int | None:
    pids = [w.pid for w in getattr(iterator, "_workers", [])]
    sizes = [_proc_kib("VmRSS", pid) for pid in pids]
    return sum(s for s in sizes if s) if pids else None


# -- the benchmark -----------------------------------------------------------------------------


def bench(
    method: str = "simclr",
    *,
    data: str = "shapes",
    encoder: str = "smallconv",
    image_size: int = 32,
    batch_size: int = 256,
    seconds: float = 20.0,
    device: str | torch.device = "auto",
    workers: int | None = None,
    compile: bool = False,
    channels_last: bool = True,
    repeats: int = 1,
    warmup: int = 5,
    n_images: int | None = None,
    seed: int = 0,
    pipelines: Sequence[str] = PIPELINES,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Images per second and peak memory of training ``method`` through each pipeline.

    Args:
        method: a key of :data:`contrastkit.methods.REGISTRY` whose ``loss`` makes its views
            with :func:`contrastkit.augment.views` (SimCLR-style methods).
        data: a dataset name for :func:`contrastkit.data.load`.
        encoder: ``"smallconv"`` or ``"resnet18"``.
        image_size: side of the images in pixels.
        batch_size: images per step (two views each).
        seconds: timed seconds per pipeline and repeat (after ``warmup`` untimed steps).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        workers: DataLoader worker processes of the reference (default ``os.cpu_count()``).
        compile: ``torch.compile`` the method's sub-modules (all pipelines).
        channels_last: run the model in ``channels_last`` memory format (all pipelines).
        repeats: how many times to time each pipeline; they are interleaved, in a rotating
            order (A B C, B C A, ...), so a change in the machine's load hits all alike.
        n_images: dataset size (default ``max(8 * batch_size, 2048)``).
        pipelines: which of ``"contrastkit"``, ``"reference"``, ``"bare"`` to run.
        log: called with a line of progress (e.g. ``print``), or None.

    Returns:
        ``{"config": {...}, "<pipeline>": {"images_per_second": median over repeats,
        "runs": [...], "memory": {...}}, ..., "ratio": contrastkit / reference,
        "ceiling_fraction": contrastkit / bare}`` (ratios are None when a side was not run).

    Raises:
        ValueError: an unknown pipeline, a batch larger than the data, a bad size.
        KeyError: an unknown method.
    """
    unknown = [p for p in pipelines if p not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown pipeline(s) {unknown}; choose from {list(PIPELINES)}")
    if batch_size < 2 or seconds <= 0 or repeats < 1 or warmup < 1:
        raise ValueError(
            f"need batch_size >= 2, seconds > 0, repeats >= 1, warmup >= 1; got {batch_size}, "
            f"{seconds}, {repeats}, {warmup}"
        )
    methods.get(method)  # KeyError with the known names, before any slow work
    dev = get_device(device)
    amp = dev.type == "cuda"
    workers = (os.cpu_count() or 1) if workers is None else workers
    say = log or (lambda line: None)

    n = n_images or max(8 * batch_size, 2048)
    dataset = load(data, n=n, image_size=image_size)
    if dataset.x.shape[-1] != image_size:
        raise ValueError(
            f"dataset {data!r} came at {dataset.x.shape[-1]} px, not image_size={image_size}"
        )
    if batch_size > len(dataset):
        raise ValueError(f"batch_size {batch_size} is larger than the data ({len(dataset)})")
    channels = dataset.x.shape[1]
    x_dev, y_dev = dataset.x.to(dev), dataset.y.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)

    def run_contrastkit() -> dict:
        model, opt = _build(method, encoder, channels, image_size, seed)
        _prepare(model, dev, channels_last, compile)

        def next_batch():  # as in fit, without replacement; drawn on the device: no sync
            idx = torch.randperm(len(x_dev), device=dev, generator=gen)[:batch_size]
            return x_dev[idx], y_dev[idx]

        return _timed(next_batch, _make_step(model, opt, dev, amp), seconds, warmup, dev)

    def run_reference() -> dict:
        model, opt = _build(method, encoder, channels, image_size, seed)
        _prepare(model, dev, channels_last, compile)
        augment_cfg = getattr(model, "augment", None)
        transform = reference_transform(augment_cfg, image_size)
        loader = torch.utils.data.DataLoader(
            _TwoViews(dataset.x, dataset.y, transform),
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=dev.type == "cuda",
        )
        state = {"batches": _endless(loader)}
        current: list[Tensor] = []

        def next_batch():
            v1, v2, y = next(state["batches"])
            current[:] = [v1.to(dev, non_blocking=True), v2.to(dev, non_blocking=True)]
            return current[0], y.to(dev, non_blocking=True)

        def workers_cpu() -> float:
            iterator = getattr(loader, "_iterator", None)
            return sum(_proc_cpu_seconds(w.pid) for w in getattr(iterator, "_workers", []))

        with _given_views(model, lambda k: current[:k]):
            out = _timed(
                next_batch, _make_step(model, opt, dev, amp), seconds, warmup, dev, workers_cpu
            )
        out["workers"] = workers
        out["workers_rss_bytes"] = _workers_rss(getattr(loader, "_iterator", None))
        state["batches"].close()  # drops the iterator: its worker processes exit
        return out

    def run_bare() -> dict:
        model, opt = _build(method, encoder, channels, image_size, seed)
        _prepare(model, dev, channels_last, compile)
        cfg = getattr(model, "augment", None)
        pool = []
        for i in range(min(4, len(x_dev) // batch_size)):  # a few distinct batches
            x = x_dev[i * batch_size : (i + 1) * batch_size]
            pool.append((views(x, 2, cfg), y_dev[i * batch_size : (i + 1) * batch_size]))
        counter = iter(range(10**12))
        current: list[Tensor] = []

        def next_batch():
            pair, y = pool[next(counter) % len(pool)]
            current[:] = pair
            return pair[0], y

        with _given_views(model, lambda k: current[:k]):
            return _timed(next_batch, _make_step(model, opt, dev, amp), seconds, warmup, dev)

    runners = {"contrastkit": run_contrastkit, "reference": run_reference, "bare": run_bare}
    runs: dict[str, list[dict]] = {p: [] for p in pipelines}
    pipelines = list(pipelines)
    for r in range(repeats):
        shift = r % len(pipelines)  # rotate the order: no pipeline always runs first or last
        for p in pipelines[shift:] + pipelines[:shift]:
            out = runners[p]()
            out["images_per_second"] = out["steps"] * batch_size / out["seconds"]
            out["images_per_cpu_second"] = out["steps"] * batch_size / max(out["cpu_seconds"], 1e-9)
            runs[p].append(out)
            say(
                f"[{r + 1}/{repeats}] {p:<11} {out['images_per_second']:8.0f} img/s "
                f"({out['steps']} steps in {out['seconds']:.1f} s)"
            )

    result: dict = {
        "config": {
            "method": method,
            "data": data,
            "encoder": encoder,
            "image_size": image_size,
            "batch_size": batch_size,
            "seconds": seconds,
            "repeats": repeats,
            "device": str(dev),
            "threads": torch.get_num_threads(),
            "workers": workers,
            "channels_last": channels_last,
            "autocast": "bf16" if amp else None,
            "compile": compile,
            "torch": torch.__version__,
        }
    }
    for p in pipelines:
        rates = sorted(run["images_per_second"] for run in runs[p])
        result[p] = {
            "images_per_second": _median(rates),
            "min": rates[0],
            "max": rates[-1],
            "images_per_cpu_second": _median([run["images_per_cpu_second"] for run in runs[p]]),
            "memory": max((run["memory"] for run in runs[p]), key=lambda m: m["peak_bytes"]),
            "runs": runs[p],
        }
    ck = result.get("contrastkit", {}).get("images_per_second")
    ref = result.get("reference", {}).get("images_per_second")
    bare = result.get("bare", {}).get("images_per_second")
    result["ratio"] = ck / ref if ck and ref else None
    result["ceiling_fraction"] = ck / bare if ck and bare else None
    # the same two ratios in images per CPU-second: the work each pipeline costs
    per_cpu = {p: result[p]["images_per_cpu_second"] for p in pipelines}
    if "contrastkit" in per_cpu and "reference" in per_cpu:
        result["cpu_ratio"] = per_cpu["contrastkit"] / per_cpu["reference"]
    if "contrastkit" in per_cpu and "bare" in per_cpu:
        result["cpu_ceiling_fraction"] = per_cpu["contrastkit"] / per_cpu["bare"]
    # the same ratios per repeat (each repeat's pipelines ran back to back, under one load)
    if repeats > 1 and ck and ref:
        result["ratio_per_repeat"] = [
            a["images_per_second"] / b["images_per_second"]
            for a, b in zip(runs["contrastkit"], runs["reference"], strict=True)
        ]
    if repeats > 1 and ck and bare:
        result["ceiling_fraction_per_repeat"] = [
            a["images_per_second"] / b["images_per_second"]
            for a, b in zip(runs["contrastkit"], runs["bare"], strict=True)
        ]
    return result


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.0f} MiB"


def format_result(result: dict) -> str:
    """A short human-readable table of :func:`bench`'s result."""
    cfg = result["config"]
    lines = [
        f"{cfg['method']} on {cfg['data']} ({cfg['image_size']} px), {cfg['encoder']}, "
        f"batch {cfg['batch_size']} x 2 views, {cfg['device']}, {cfg['threads']} threads, "
        f"{cfg['seconds']:g} s x {cfg['repeats']}",
        f"{'pipeline':<12} {'img/s':>8} {'(min-max)':>14} {'img/CPU-s':>10}  {'peak memory':>12}"
        f"  {'growth':>9}",
    ]
    for p in PIPELINES:
        if p not in result:
            continue
        r = result[p]
        spread = f"({r['min']:.0f}-{r['max']:.0f})" if cfg["repeats"] > 1 else ""
        mem = r["memory"]
        lines.append(
            f"{p:<12} {r['images_per_second']:8.0f} {spread:>14} {r['images_per_cpu_second']:10.0f}"
            f"  {_mib(mem['peak_bytes']):>12}  {_mib(mem['growth_bytes']):>9}"
        )
    if result.get("ratio") is not None:
        lines.append(f"contrastkit / reference: {result['ratio']:.2f}x")
    if result.get("ceiling_fraction") is not None:
        lines.append(f"contrastkit / bare model: {100 * result['ceiling_fraction']:.0f}%")
    if result.get("cpu_ratio") is not None:
        lines.append(f"per CPU-second, contrastkit / reference: {result['cpu_ratio']:.2f}x")
    if result.get("cpu_ceiling_fraction") is not None:
        share = 100 * result["cpu_ceiling_fraction"]
        lines.append(f"per CPU-second, contrastkit / bare model: {share:.0f}%")
    kind = next((result[p]["memory"]["kind"] for p in PIPELINES if p in result), "")
    lines.append(f"memory: {kind} of this process during the timed window")
    workers = [r.get("workers_rss_bytes") for r in result.get("reference", {}).get("runs", [])]
    if any(workers):
        lines.append(f"reference's DataLoader workers: {_mib(max(w for w in workers if w))} RSS")
    return "\n".join(lines)


def cli_bench(args: argparse.Namespace) -> int:
    """``contrastkit bench``: run :func:`bench` and print a table (or JSON with ``--json``)."""
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be >= 0, got {args.workers}")
    repeats = args.repeats or 1
    result = bench(
        args.method,
        data=args.data,
        encoder=args.encoder,
        image_size=args.image_size,
        batch_size=args.batch_size,
        seconds=args.seconds,
        device=args.device or "auto",
        workers=args.workers,
        compile=args.compile,
        repeats=repeats,
        log=None if args.json else lambda line: print(line, flush=True),
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_result(result))
    return 0
