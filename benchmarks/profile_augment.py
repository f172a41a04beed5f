"""Where does batched augmentation spend its time? torch.profiler over ``augment``.

Times ``contrastkit.augment.augment`` on a random ``(B, C, S, S)`` batch for each preset and
prints the top operators by self CPU time. ``--compare REV`` also loads ``augment.py`` from a
git revision (e.g. ``2160646``, the op-by-op version before the matrix rewrite) and times it
on the same batches with the same seeds, checking that both give the same images.

Usage (from the repository root):

    python benchmarks/profile_augment.py --compare 2160646
    python benchmarks/profile_augment.py --presets strong --size 64 --threads 2 --top 12
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from contrastkit import augment as current


def _load_revision(rev: str):
    """``contrastkit/augment.py`` as it was at git revision ``rev``, as a module."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{rev}:contrastkit/augment.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"augment_{rev}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"augment_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return 1e3 * (time.process_time() - start)


def _time(fns: list, reps: int) -> list[list[float]]:
    """CPU milliseconds per call of each function, the functions interleaved call by call.

    CPU time, not wall time, and interleaved: a busy machine changes both less (it still
    slows them: caches and cores are shared), and what it does change hits all alike.
    """
    for fn in fns:
        for _ in range(3):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, out in zip(fns, times, strict=True):
            out.append(_cpu_ms(fn))
    return times


def _top_ops(label: str, fn, top: int) -> None:
    """The ``top`` operators by self CPU time over 10 calls of ``fn``."""
    if top <= 0:
        return
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            fn()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    ops = ", ".join(
        f"{e.key.removeprefix('aten::')} {100 * e.self_cpu_time_total / total:.0f}%"
        f" ({e.count // 10})"
        for e in events[:top]
    )
    print(f"    {label}: {ops}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["simclr", "strong", "digits"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--top", type=int, default=6, help="operators listed (calls/augment)")
    parser.add_argument("--compare", metavar="REV", help="also time augment.py at this revision")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    old = _load_revision(args.compare) if args.compare else None
    x = torch.rand(args.batch, args.channels, args.size, args.size)
    print(
        f"augment() on ({args.batch}, {args.channels}, {args.size}, {args.size}), "
        f"{args.threads} thread(s), torch {torch.__version__}; CPU ms per call: p10 / median"
    )
    for preset in args.presets:
        cfg = current.PRESETS[preset]
        fns = [lambda cfg=cfg: current.augment(x, cfg)]
        if old is not None:
            old_cfg = old.AugmentConfig(**cfg.__dict__)
            fns.append(lambda c=old_cfg: old.augment(x, c))
        times = _time(fns, args.reps)
        p10 = sorted(times[0])[len(times[0]) // 10]
        line = f"{preset:<8} now {p10:7.2f} / {statistics.median(times[0]):7.2f}"
        if old is not None:
            before = sorted(times[1])[len(times[1]) // 10]
            speedup = statistics.median(b / a for a, b in zip(*times, strict=True))
            torch.manual_seed(0)
            a = old.augment(x, old_cfg)
            torch.manual_seed(0)
            b = current.augment(x, cfg)
            line += (
                f"   {args.compare} {before:7.2f} / {statistics.median(times[1]):7.2f}   "
                f"x{speedup:.1f} faster (median of paired calls), "
                f"max |diff| {float((a - b).abs().max()):.1e}"
            )
        print(line)
        _top_ops("now", fns[0], args.top)
        if old is not None:
            _top_ops(args.compare, fns[1], args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
