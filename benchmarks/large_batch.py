"""Peak memory of nt_xent and clip_loss at large batches, against the similarity matrix's size.

The contract: a (2N, 2N) float32 similarity matrix is unavoidable for NT-Xent (1 GiB at
N = 8,192), and so are the log-softmax saved for backward and the gradient of the logits
(each the same size). Anything above ~3x the matrix is a needless copy.

Each case runs in a fresh subprocess, so the peak belongs to that case alone: forward and
backward of the loss on ``(N, D)`` random embeddings with ``requires_grad``. Peak memory is
``torch.cuda.max_memory_allocated`` minus what was allocated before the loss on CUDA, and on
CPU the peak RSS (``VmHWM``) minus the RSS before the loss.

Usage (from the repository root):

    python benchmarks/large_batch.py                       # N = 8,192, D = 128, CPU
    python benchmarks/large_batch.py --n 4096 --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CASES = ("nt_xent", "clip_loss")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(case: str, n: int, d: int, device: str, threads: int) -> dict:
    """Forward + backward of one loss; peak memory above the inputs, and the time it took."""
    import torch

    import contrastkit.losses as L

    torch.set_num_threads(threads)
    dev = torch.device(device)
    g = torch.Generator(device=dev).manual_seed(0)
    z1 = torch.randn(n, d, device=dev, generator=g, requires_grad=True)
    z2 = torch.randn(n, d, device=dev, generator=g, requires_grad=True)
    fn = {"nt_xent": lambda: L.nt_xent(z1, z2, 0.5), "clip_loss": lambda: L.clip_loss(z1, z2)}
    rows = 2 * n if case == "nt_xent" else n
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base = _status_bytes("VmRSS")
    start = time.perf_counter()
    loss = fn[case]()
    loss.backward()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) - base
    else:
        peak = _status_bytes("VmHWM") - base
    seconds = time.perf_counter() - start
    matrix = rows * rows * 4
    return {
        "case": case,
        "n": n,
        "d": d,
        "device": str(dev),
        "similarity_matrix_bytes": matrix,
        "peak_bytes": peak,
        "peak_over_matrix": peak / matrix,
        "seconds": seconds,
        "loss": float(loss),
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192, help="batch size N (default 8192)")
    parser.add_argument("--d", type=int, default=128, help="embedding size D (default 128)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.n, args.d, args.device, args.threads)))
        return 0
    results = []
    for case in args.cases:
        cmd = [sys.executable, __file__, "--one", case, "--n", str(args.n), "--d", str(args.d)]
        cmd += ["--device", args.device, "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    mib = 2**20
    header = ("loss", "N", "D", "matrix", "peak", "peak/matrix", "s")
    print("{:<10} {:>6} {:>4} {:>10} {:>10} {:>12} {:>6}".format(*header))
    for r in results:
        matrix, peak = r["similarity_matrix_bytes"] / mib, r["peak_bytes"] / mib
        print(
            f"{r['case']:<10} {r['n']:>6} {r['d']:>4} {matrix:>6.0f} MiB {peak:>6.0f} MiB "
            f"{r['peak_over_matrix']:>12.2f} {r['seconds']:>6.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
