"""Training throughput: contrastkit's pipeline vs torchvision + DataLoader vs the bare model step.

A thin driver around :func:`contrastkit.bench.bench` (the same code as ``contrastkit bench``)
that repeats the measurement, interleaving the three pipelines so that a change in the
machine's load hits all of them alike, and saves the full result as JSON.

Usage (from the repository root):

    python benchmarks/throughput.py --repeats 3 --seconds 20 \\
        --out benchmarks/results/cpu_smallconv_32.json
    python benchmarks/throughput.py --encoder resnet18 --image-size 32 --batch-size 512
    python benchmarks/throughput.py --device cuda --compile

See benchmarks/README.md for the numbers and what limits them.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from contrastkit.bench import bench, format_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--encoder", default="smallconv", choices=["smallconv", "resnet18"])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, help="reference DataLoader workers (cpu count)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (torch's default)")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--nchw", action="store_true", help="do not use channels_last")
    parser.add_argument("--pipelines", nargs="+", default=["contrastkit", "reference", "bare"])
    parser.add_argument("--out", help="write the JSON result here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench(
        args.method,
        data=args.data,
        encoder=args.encoder,
        image_size=args.image_size,
        batch_size=args.batch_size,
        seconds=args.seconds,
        device=args.device,
        workers=args.workers,
        compile=args.compile,
        channels_last=not args.nchw,
        repeats=args.repeats,
        pipelines=args.pipelines,
        log=lambda line: print(line, flush=True),
    )
    result["config"]["machine"] = {
        "cpu_count": __import__("os").cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    print(format_result(result))
    for key in ("ratio_per_repeat", "ceiling_fraction_per_repeat"):
        if key in result:
            print(f"{key}: {', '.join(f'{v:.2f}' for v in result[key])}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
