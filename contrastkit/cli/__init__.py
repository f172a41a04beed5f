"""The ``contrastkit`` command: list the notebooks, run them, report their claims.

Examples:
    contrastkit list --chapter 1
    contrastkit notebooks --quick --only simclr align_uniform
    contrastkit notebooks --quick --chapter 2 --seeds 0 1 2 3 4 --jobs 2
    contrastkit report --results-dir results/claims --require-done --html claims.html
    contrastkit train simclr --data shapes --steps 2000 --device cuda
    contrastkit bench simclr --data shapes --encoder resnet18 --image-size 32 \\
        --batch-size 512 --seconds 20

Only the standard library, ``contrastkit.catalog`` and ``contrastkit.claims`` are
imported at start-up, so ``contrastkit list`` answers at once; papermill, torch and the
training code are imported by the subcommands that need them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from contrastkit import catalog, claims

DEFAULT_OUTPUT_DIR = "results/notebooks"


# -- running notebooks -----------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """The outcome of executing one notebook.

    Attributes:
        notebook: Path of the input notebook.
        output: Path of the executed copy (with outputs, and the error if it failed).
        status: "ok" or "failed".
        seconds: Wall-clock time of the run.
        error: One-line summary of the failure ("In [7]: AssertionError: ..."), or "".
        seed: The ``SEED`` parameter it ran with (None when it got no int seed).
    """

    notebook: str
    output: str
    status: str
    seconds: float
    error: str = ""
    seed: int | None = None


def run_notebooks(
    paths: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    parameters: dict,
    jobs: int = 1,
    timeout: float | None = None,
    on_done: Callable[[Result], None] | None = None,
    relative_to: str | os.PathLike | None = None,
    seeds: Sequence[int] | None = None,
) -> list[Result]:
    """Execute notebooks with papermill, each in its own folder, and collect the results.

    Args:
        paths: Notebooks to run.
        output_dir: Where the executed copies go, mirroring the layout below
            ``relative_to`` (``notebooks/01_x/02_y.ipynb`` -> ``<output_dir>/01_x/02_y.ipynb``;
            with several ``seeds``, ``<output_dir>/seed<S>/01_x/02_y.ipynb``).
        parameters: Values injected after the notebook's ``parameters`` cell, e.g.
            ``{"QUICK": True, "SEED": 0, "RESULTS_DIR": "/abs/results/claims"}``. The
            notebook runs in its own folder, so give paths as absolute paths.
        jobs: How many notebooks run at once (each in a worker process with its kernel).
        timeout: Limit in seconds for any single cell (papermill's ``execution_timeout``);
            None for no limit.
        on_done: Called with each :class:`Result` as soon as that notebook finishes.
        relative_to: Folder whose layout the outputs mirror; default: the notebooks'
            common folder.
        seeds: Run each notebook once per seed, with ``SEED`` set to it (overriding
            ``parameters``); all runs share the ``jobs`` workers. None: once, as given.

    Returns:
        One :class:`Result` per path (per path and seed, notebook by notebook, seeds in
        the given order, when ``seeds`` is given), in the order of ``paths``.

    Raises:
        ValueError: If ``jobs`` < 1, ``timeout`` <= 0, or ``seeds`` is empty or repeats
            a seed.
        FileNotFoundError: If a notebook does not exist.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    paths = [Path(p).resolve() for p in paths]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"notebook(s) not found: {', '.join(absent)}")
    if not paths:
        return []
    root = Path(relative_to or os.path.commonpath([p.parent for p in paths])).resolve()
    out = Path(output_dir).resolve()
    if seeds is None:
        tasks = [(p, out / p.relative_to(root), dict(parameters), timeout) for p in paths]
    else:
        tasks = [
            (
                p,
                (out / f"seed{seed}" if len(seeds) > 1 else out) / p.relative_to(root),
                {**parameters, "SEED": seed},
                timeout,
            )
            for p in paths
            for seed in seeds
        ]
    results: dict[int, Result] = {}
    if jobs == 1:
        for i, task in enumerate(tasks):
            results[i] = _run_one(*task)
            if on_done:
                on_done(results[i])
    else:  # "spawn": workers must not inherit a parent that may have imported torch
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, *task): i for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                results[futures[future]] = result = future.result()
                if on_done:
                    on_done(result)
    return [results[i] for i in range(len(tasks))]


def _run_one(path: Path, output: Path, parameters: dict, timeout: float | None) -> Result:
    import papermill  # slow to import; only this subcommand needs it

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(path),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=False,
            execution_timeout=timeout,
            # The kernel's own log (e.g. its TCP-without-encryption warning) is noise here.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except papermill.PapermillExecutionError as err:
        error = f"In [{err.exec_count}]: {_one_line(err.ename, err.evalue)}"
    except Exception as err:  # noqa: BLE001 -- reported per notebook; the others still run
        error = _one_line(type(err).__name__, str(err))
    status = "failed" if error else "ok"
    seed = parameters.get("SEED") if isinstance(parameters.get("SEED"), int) else None
    return Result(str(path), str(output), status, time.perf_counter() - start, error, seed)


def _one_line(name: str, message: str) -> str:
    lines = [line for line in str(message).splitlines() if line.strip()]
    return f"{name}: {lines[0].strip()[:300]}" if lines else name


# -- subcommands -----------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    entries = [
        e
        for e in catalog.ENTRIES
        if (args.chapter is None or e.chapter == args.chapter)
        and (args.status is None or e.status == args.status)
    ]
    if args.json:
        print(json.dumps([dataclasses.asdict(e) for e in entries], indent=2))
        return 0
    chapter = None
    for e in entries:
        if e.chapter != chapter:
            chapter = e.chapter
            print(f"{chapter:02d} {e.chapter_title}")
        year = f" ({e.year})" if e.year else ""
        number = catalog.notebook_number(e)
        print(f"  {number} {e.key:<22} {e.status:<8} {e.title}{year}")
    done = sum(e.status == "done" for e in entries)
    print(f"{len(entries)} notebooks, {done} done")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    results_dir = (
        args.results_dir or os.environ.get(claims.RESULTS_ENV) or claims.DEFAULT_RESULTS_DIR
    )
    fmt = "json" if args.json else "markdown"
    print(claims.report(results_dir, fmt=fmt, checks=args.checks), end="")
    if args.html:
        Path(args.html).write_text(claims.report(results_dir, fmt="html"), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.require_done:
        missing = claims.missing_done(results_dir)
        failed = [
            f"{c['key']} ({c['claim']}; seed {claims.seed_label(c.get('seed'))})"
            for c in claims.load(results_dir)
            if not c["passed"]
        ]
        problems = [f"done notebooks without a record: {', '.join(missing)}"] if missing else []
        problems += [f"failed checks: {'; '.join(failed)}"] if failed else []
        if problems:
            print(f"contrastkit report: {' | '.join(problems)}", file=sys.stderr)
            return 1
    return 0


def _cmd_notebooks(args: argparse.Namespace) -> int:
    seeds = args.seeds if args.seeds is not None else [args.seed]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: each seed once, got {' '.join(map(str, seeds))}")
    root = _repo_root()
    entries = [catalog.get(k) for k in args.only] if args.only else list(catalog.ENTRIES)
    if args.chapter is not None:
        entries = [e for e in entries if e.chapter == args.chapter]
    absent = [e for e in entries if not (root / e.notebook).is_file()]
    if args.only and absent:
        names = ", ".join(f"{e.key} ({e.notebook})" for e in absent)
        raise FileNotFoundError(f"notebook not written yet: {names}; see `contrastkit list`")
    if absent:
        print(
            f"skipped (not written yet): {len(absent)} notebooks: "
            f"{', '.join(e.key for e in absent)}"
        )
    if stale := [e.key for e in absent if e.status == "done"]:
        print(
            f"warning: marked done in catalog.DONE but no notebook: {', '.join(stale)}",
            file=sys.stderr,
        )
    entries = [e for e in entries if e not in absent]
    if not entries:
        print("nothing to run")
        return 0

    results_dir = Path(args.results_dir).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    parameters = {"QUICK": args.quick, "SEED": seeds[0], "RESULTS_DIR": str(results_dir)}
    # Kernels start in each notebook's folder: make the checkout importable from there.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])
    )
    mode = "quick" if args.quick else "full"
    several = len(seeds) > 1
    runs = len(entries) * len(seeds)
    what = f"{len(entries)} notebooks x {len(seeds)} seeds" if several else f"{runs} notebooks"
    seed_text = f"seeds {' '.join(map(str, seeds))}" if several else f"seed {seeds[0]}"
    print(f"running {what} ({mode} mode, {seed_text}, {args.jobs} at once)")
    width = len(str(runs))
    count = 0

    def progress(result: Result) -> None:
        nonlocal count
        count += 1
        name = os.path.relpath(result.notebook, root)
        name += f" (seed {result.seed})" if several else ""
        print(f"[{count:>{width}}/{runs}] {result.status:<6} {result.seconds:6.1f}s  {name}")
        if result.error:
            print(f"    error: {result.error}\n    output: {result.output}")
        sys.stdout.flush()

    start = time.perf_counter()
    results = run_notebooks(
        [root / e.notebook for e in entries],
        args.output_dir,
        parameters,
        jobs=args.jobs,
        timeout=args.timeout,
        on_done=progress,
        relative_to=root / "notebooks",
        seeds=seeds,
    )
    failed = [r for r in results if r.status != "ok"]
    print(
        f"\n{len(results)} notebook runs in {time.perf_counter() - start:.1f}s: "
        f"{len(results) - len(failed)} ok, {len(failed)} failed\n"
    )
    print(claims.report(results_dir), end="")
    for r in failed:
        seed = f" (seed {r.seed})" if several else ""
        print(f"FAILED {os.path.relpath(r.notebook, root)}{seed}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from contrastkit.cli.train import cli_train

    return int(cli_train(args) or 0)


def _cmd_bench(args: argparse.Namespace) -> int:
    from contrastkit.bench import cli_bench

    return int(cli_bench(args) or 0)


def _repo_root() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (base / "notebooks").is_dir():
            return base
    raise FileNotFoundError(
        "no notebooks/ folder in the current directory or beside the contrastkit package; "
        "run this command from the root of a contrastkit checkout"
    )


# -- argument parsing ------------------------------------------------------------------


def _chapter(text: str) -> int:
    if text.isdigit() and int(text) in catalog.CHAPTERS:
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected a chapter number 1..{max(catalog.CHAPTERS)} (e.g. 3 or 03), got {text!r}"
    )


def _positive_int(text: str) -> int:
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value > 0:
        return value
    raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``contrastkit`` command."""
    parser = argparse.ArgumentParser(
        prog="contrastkit",
        description="Contrastive learning teaching suite: notebooks, claims, training.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the notebooks of the reading list")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.add_argument("--chapter", type=_chapter, help="only this chapter (1..10)")
    p.add_argument("--status", choices=["done", "planned"], help="only entries with this status")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("report", help="print the claims report")
    p.add_argument(
        "--results-dir",
        help="folder of claim records (default: "
        f"${claims.RESULTS_ENV}, else {claims.DEFAULT_RESULTS_DIR})",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument(
        "--checks",
        action="store_true",
        help="Markdown: one row per recorded check (each seed, every metric) instead of "
        "one row per claim over its seeds",
    )
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write the report as an HTML page (works offline; per claim, the gap on "
        "each seed against the margin)",
    )
    p.add_argument(
        "--require-done",
        action="store_true",
        help="exit 1 if a done notebook has no record or any check failed",
    )
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser("notebooks", help="execute notebooks with papermill")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=True,
        help="quick mode, small data and few steps (default)",
    )
    mode.add_argument("--full", dest="quick", action="store_false", help="full-scale mode")
    p.add_argument("--only", nargs="+", metavar="KEY", help="run only these catalog keys")
    p.add_argument("--chapter", type=_chapter, help="run only this chapter (1..10)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, default=0, help="SEED parameter (default: 0)")
    seed.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="run each notebook once per seed (e.g. --seeds 0 1 2 3 4); with several, "
        "executed copies go to <output-dir>/seed<S>/",
    )
    p.add_argument(
        "--results-dir",
        default=claims.DEFAULT_RESULTS_DIR,
        help="where notebooks record claims (default: %(default)s)",
    )
    p.add_argument(
        "--output-dir",
        default=DEFAULT_OUTPUT_DIR,
        help="where executed notebooks go (default: %(default)s)",
    )
    p.add_argument("--jobs", type=_positive_int, default=1, help="notebooks run at once")
    p.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="fail a notebook when any one cell runs longer than this",
    )
    p.set_defaults(handler=_cmd_notebooks)

    p = sub.add_parser("train", help="train a method (see contrastkit.train)")
    p.add_argument("method", metavar="METHOD", help="method key, e.g. simclr")
    p.add_argument("--data", required=True, metavar="NAME", help="dataset name, e.g. digits")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int, help="optimiser steps")
    length.add_argument("--epochs", type=_positive_int, help="passes over the data")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--temperature", type=_positive_float)
    p.add_argument("--lr", type=_positive_float, help="learning rate")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--out", metavar="DIR", help="folder for checkpoints and logs")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--seed", type=int)
    p.add_argument("--image-size", type=_positive_int)
    p.add_argument("--n-train", type=_positive_int, help="number of training samples")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser("bench", help="measure training throughput and memory")
    p.add_argument("method", metavar="METHOD", help="method key, e.g. simclr")
    p.add_argument("--data", required=True, metavar="NAME", help="dataset name")
    p.add_argument("--encoder", required=True, choices=["smallconv", "resnet18"])
    p.add_argument("--image-size", required=True, type=_positive_int)
    p.add_argument("--batch-size", required=True, type=_positive_int)
    p.add_argument("--seconds", required=True, type=_positive_float, help="time to measure")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--workers", type=int, help="data-loading worker processes")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--repeats", type=_positive_int, help="time each pipeline this many times")
    p.set_defaults(handler=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``contrastkit`` command.

    Args:
        argv: Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 success, 1 a notebook or check failed, 2 bad usage or input.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return exit_.code if isinstance(exit_.code, int) else 0
    try:
        return args.handler(args)
    except (ValueError, KeyError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"contrastkit: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("contrastkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `contrastkit list | head`: the reader left, not an error
        sys.stderr.close()
        return 0
