"""Record a notebook's measured claim, and turn the records into the claims report.

Every notebook ends with a claim check: the paper's key claim restated at toy scale,
measured, compared with a baseline and a margin. ``record`` stores that check as JSON in
``<results_dir>/<key>.seed<S>.json`` (one file per notebook and seed, holding one or more
checks; ``<key>.json`` when the seed is not a single int), so running a second seed never
overwrites the first. ``report`` gathers the files into one row per claim in catalog
order: on how many seeds it held, the method and the baseline as mean ± sd, the gap per
seed against the margin; it flags notebooks that are marked done but recorded nothing.

Example, the claim cell of a notebook (``SEED``, ``QUICK``, ``RESULTS_DIR`` are its
papermill parameters)::

    gap = knn_acc - knn_acc_pixels
    claims.record(
        "simclr", "kNN accuracy beats raw pixels by 10 points",
        metrics={"knn_acc": knn_acc}, baseline={"knn_acc": knn_acc_pixels},
        passed=gap >= 0.10, margin=0.10, gap=gap,
        seed=SEED, quick=QUICK, results_dir=RESULTS_DIR,
    )
    # [PASS] simclr: kNN accuracy beats raw pixels by 10 points (knn_acc=0.81;
    #        baseline knn_acc=0.42; margin 0.1; gap 0.39)      <- printed on one line
    assert gap >= 0.10, f"kNN gain {gap:.3f} < 0.10"

Only the standard library is imported at module level (the CLI imports this module at
start-up); torch is imported inside :func:`record`, plotly inside the HTML report.
"""

from __future__ import annotations

import functools
import html
import importlib
import importlib.metadata
import json
import math
import numbers
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contrastkit import catalog
from contrastkit.files import atomic_write_text

#: Environment variable read when ``results_dir`` is not given.
RESULTS_ENV = "CONTRASTKIT_RESULTS_DIR"
#: Where the CLI reads and writes records by default.
DEFAULT_RESULTS_DIR = "results/claims"
#: Report formats accepted by :func:`report`.
FORMATS = ("markdown", "html", "json")

# record(seconds=None) reports the time since this module was imported; in a notebook
# that is (close to) the time since its `import contrastkit` cell.
_IMPORTED_AT = time.perf_counter()

# The per-check table (report(..., checks=True)): one row per recorded check.
_CHECK_COLUMNS = (
    "chapter", "key", "claim", "metrics", "baseline", "gap", "margin", "seed", "quick", "passed",
)  # fmt: skip
# The claims table (the default report): one row per claim, aggregated over seeds.
_CLAIM_COLUMNS = (
    "chapter", "key", "claim", "mode", "held", "method", "baseline", "gap", "min gap", "margin",
    "slack", "seeds",
)  # fmt: skip
_LEGEND = (
    "held: seeds on which the check passed, of the seeds recorded. method, baseline: the "
    "first metric and the first baseline value, mean ± sd over seeds. gap: the gap the "
    "notebook recorded, or (marked †) the first metric minus the first baseline value. "
    "slack: (smallest gap - margin) / sd of the gaps (issue 14 asks for >= 1)."
)


def record(
    key: str,
    claim: str,
    metrics: Mapping[str, float],
    baseline: Mapping[str, float] | None = None,
    *,
    passed: bool,
    margin: float | None = None,
    gap: float | None = None,
    seed: int | Sequence[int] | None = None,
    quick: bool | None = None,
    results_dir: str | os.PathLike | None = None,
    notes: str = "",
    seconds: float | None = None,
    device: Any = None,
) -> dict:
    """Record one claim check of a notebook and print a one-line summary.

    The check is stored in ``<results_dir>/<key>.seed<S>.json`` when ``seed`` is an int
    (``<key>.json`` otherwise) as ``{"key": ..., "checks": [...]}``, so runs with other
    seeds, even at the same time, never overwrite it. A notebook may record several
    checks under its key; recording a check whose ``claim`` text and mode (``quick``) are
    already in that file replaces that check. The file is written atomically
    (:func:`contrastkit.files.atomic_write_text`).

    Besides the arguments, the record notes the git commit of the checkout the package
    runs from ("" outside a checkout), torch's thread count at record time, the platform
    and the versions of Python, torch, NumPy and contrastkit.

    Args:
        key: The notebook's catalog key, e.g. ``"simclr"``.
        claim: The claim in one sentence, e.g. "kNN accuracy beats raw pixels by 10 pts".
            Keep it the same for every seed: the report groups checks by this text.
        metrics: Measured values, name -> number (tensors/NumPy scalars are converted).
            The first one is the method's headline value in the report.
        baseline: The baseline's values, or None. The first one is the baseline's headline
            value in the report.
        passed: Whether the check passed (keyword-only, required).
        margin: The margin the check asserted, if any.
        gap: The measured effect the margin is compared with, signed so that larger is
            better (e.g. method - baseline, or baseline - method for a loss). None: the
            report uses the first metric minus the first baseline value.
        seed: The seed, or the list of seeds the metrics were aggregated over.
        quick: Whether the notebook ran in quick mode.
        results_dir: Folder for the JSON file. If None, the ``CONTRASTKIT_RESULTS_DIR``
            environment variable is used; if that is unset too, nothing is written.
        notes: Free text, e.g. what was scaled down or why a weaker claim was checked.
        seconds: Run time to report. If None, the time since ``contrastkit.claims`` was
            first imported (in a notebook, roughly since its import cell).
        device: The device the notebook ran on (stored as a string), or None.

    Returns:
        The record as a dict (also what was written to the file).

    Raises:
        ValueError: If ``key`` is not in the catalog, ``claim`` is empty, or a metric,
            the margin or the gap is not a finite number.
        TypeError: If ``passed`` is not a bool, a mapping argument is not a mapping, or
            ``seed`` is not an int or a list of ints.
    """
    try:
        catalog.get(key)
    except KeyError as err:
        raise ValueError(f"key: {err.args[0]}") from None
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError(f"claim must be a non-empty sentence, got {claim!r}")
    rec: dict[str, Any] = {
        "key": key,
        "claim": claim.strip(),
        "metrics": _numbers("metrics", metrics),
        "baseline": None if baseline is None else _numbers("baseline", baseline),
        "margin": None if margin is None else _finite("margin", margin),
        "gap": None if gap is None else _finite("gap", gap),
        "seed": _seed(seed),
        "quick": None if quick is None else bool(quick),
        "passed": _bool("passed", passed),
        "notes": notes,
        "seconds": round(_finite("seconds", _elapsed() if seconds is None else seconds), 3),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "threads": _torch_threads(),
        "versions": _versions(),
        "platform": platform.platform(),
        "device": None if device is None else str(device),
    }
    results_dir = results_dir if results_dir is not None else os.environ.get(RESULTS_ENV)
    if results_dir:
        _write_check(Path(results_dir), rec)
    print(_summary(rec))
    return rec


def load(results_dir: str | os.PathLike) -> list[dict]:
    """Return every recorded check in ``results_dir``, in catalog order, then seed order.

    Files from before per-seed files (``<key>.json`` holding int seeds) are read too; a
    check found twice (same key, claim, seed and mode) counts once, the newest.

    Args:
        results_dir: Folder holding the ``<key>[.seed<S>].json`` files written by
            :func:`record`.

    Returns:
        One dict per check, each with its ``key``. Keys unknown to the catalog (e.g.
        from an older version) come last.

    Raises:
        FileNotFoundError: If ``results_dir`` does not exist.
        ValueError: If a file is not a claims record.
    """
    folder = Path(results_dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"results directory {str(folder)!r} does not exist; run the notebooks first "
            "(`contrastkit notebooks`) or pass the folder they wrote to"
        )
    newest: dict[tuple, dict] = {}
    for path in sorted(folder.glob("*.json")):
        data = _read(path)
        for check in data["checks"]:
            check = {**check, "key": data["key"]}
            ident = (
                check["key"],
                check.get("claim"),
                _seed_id(check.get("seed")),
                check.get("quick"),
            )
            older = newest.pop(ident, None)  # (re-)inserted last: the order files were read
            newer = older is None or check.get("timestamp", "") >= older.get("timestamp", "")
            newest[ident] = check if newer else older
    order = {k: i for i, k in enumerate(catalog.keys())}
    return sorted(
        newest.values(),
        key=lambda c: (order.get(c["key"], len(order)), _seed_order(c.get("seed"))),
    )


def missing_done(results_dir: str | os.PathLike) -> list[str]:
    """Return the keys marked done in the catalog that have no record in ``results_dir``.

    ``start_here`` (no method, no paper claim) is not expected to record a check.
    """
    return _missing(load(results_dir))


def summarize(results_dir: str | os.PathLike) -> list[dict]:
    """Aggregate the checks in ``results_dir`` over seeds: one dict per claim.

    Checks are grouped by key, claim text and mode (quick or full). Each group gives
    ``n`` (checks, one per seed), ``held`` (how many passed), ``seeds`` (their labels),
    ``method`` and ``baseline`` (the first metric and the first baseline value: ``name``,
    ``mean``, ``sd``, ``values``), ``gap`` (``mean``, ``sd``, ``min``, ``values`` and
    ``derived``: True when some gap was not recorded but computed as method - baseline),
    ``margin`` (None when the checks recorded none, the largest when they differ, with
    ``margins`` listing them), ``slack`` ((min gap - margin) / sd of the gaps, None when
    undefined), ``commits`` and ``checks`` (the checks themselves), and ``status``:
    ``"pass"`` (held on every seed) or ``"fail"``. A done notebook without a record adds
    a row with ``status`` ``"missing"``.

    Raises:
        FileNotFoundError: If ``results_dir`` does not exist.
    """
    checks = load(results_dir)
    chapter_of = {e.key: e.chapter for e in catalog.ENTRIES}
    groups: dict[tuple, list[dict]] = {}
    for check in checks:
        groups.setdefault((check["key"], check["claim"], check.get("quick")), []).append(check)
    rows = [
        _aggregate(chapter_of.get(key), key, claim, quick, group)
        for (key, claim, quick), group in groups.items()
    ]
    rows += [{"chapter": chapter_of[k], "key": k, "status": "missing"} for k in _missing(checks)]
    order = {k: i for i, k in enumerate(catalog.keys())}
    return sorted(rows, key=lambda r: order.get(r["key"], len(order)))  # stable: claims keep order


def report(
    results_dir: str | os.PathLike | None = None, fmt: str = "markdown", checks: bool = False
) -> str:
    """Build the claims report: one row per claim over all its seeds, plus missing notebooks.

    Args:
        results_dir: Folder of records; defaults to ``$CONTRASTKIT_RESULTS_DIR``, then
            ``results/claims``.
        fmt: ``"markdown"``, ``"html"`` (a standalone page that works offline: plotly.js
            is embedded; per claim, the gap on each seed as dots against the margin line,
            and each seed's metrics) or ``"json"`` (``summary``, ``seeds``, ``claims``:
            the rows of :func:`summarize`, ``checks``: every check).
        checks: Markdown only: one row per recorded check (every metric, each seed on
            its own row) instead of one row per claim.

    Returns:
        The report as text, rows in catalog order.

    Raises:
        ValueError: If ``fmt`` is not one of the three formats.
        FileNotFoundError: If the results folder does not exist.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be 'markdown', 'html' or 'json', got {fmt!r}")
    results_dir = results_dir or os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS_DIR
    rows = summarize(results_dir)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("pass", "fail", "missing")}
    recorded = [r for r in rows if r["status"] != "missing"]
    seeds = sorted({s for r in recorded for s in r["seeds"]}, key=_label_order)
    commits = sorted({c for r in recorded for c in r["commits"] if c})
    summary = (
        f"{len(recorded)} claims over seeds {', '.join(seeds) or '-'}: "
        f"{counts['pass']} held on every seed, {counts['fail']} failed on some seed; "
        f"{counts['missing']} done notebooks without a record"
        + (f"; records from {len(commits)} commits" if len(commits) > 1 else "")
    )
    if fmt == "json":
        payload = {
            "results_dir": str(results_dir),
            "summary": {**counts, "claims": len(recorded), "checks": sum(r["n"] for r in recorded)},
            "seeds": seeds,
            "commits": commits,
            "claims": rows,
        }
        return json.dumps(payload, indent=2)
    if fmt == "html":
        return _html(rows, summary)
    if checks:
        return _markdown(_CHECK_COLUMNS, [_check_cells(r) for r in _check_rows(rows)], summary)
    return _markdown(_CLAIM_COLUMNS, [_claim_cells(r) for r in rows], summary + "\n\n" + _LEGEND)


# -- helpers: recording ----------------------------------------------------------------


def _elapsed() -> float:
    return time.perf_counter() - _IMPORTED_AT


def _finite(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}; check the run for NaN")
    return number


def _numbers(name: str, values: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{name} must be a dict of name -> number, got {type(values).__name__}")
    if name == "metrics" and not values:
        raise ValueError("metrics must hold at least one measured value, got an empty dict")
    return {str(k): _finite(f"{name}[{k!r}]", v) for k, v in values.items()}


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool) and hasattr(value, "item"):  # NumPy / torch scalar
        value = value.item()
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _seed(seed: int | Sequence[int] | None) -> int | list[int] | None:
    def integer(value: Any) -> bool:  # int or NumPy integer, not bool
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if seed is None:
        return None
    if integer(seed):
        return int(seed)
    if isinstance(seed, Sequence) and not isinstance(seed, str) and all(map(integer, seed)):
        return [int(s) for s in seed]
    raise TypeError(f"seed must be an int or a list of ints, got {seed!r}")


@functools.lru_cache(maxsize=1)
def _commit() -> str:
    """The commit of the checkout this package runs from, or "" (no git, no checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _torch_threads() -> int | None:
    try:
        import torch  # here, not at module level: seconds to load
    except Exception:  # noqa: BLE001 -- no (working) torch: nothing to report
        return None
    return int(torch.get_num_threads())


def _versions() -> dict[str, str | None]:
    def version(module: str) -> str | None:
        try:  # imported here, not at module level: torch takes seconds to load
            found = getattr(importlib.import_module(module), "__version__", None)
            return found or importlib.metadata.version(module)
        except Exception:  # noqa: BLE001 -- a missing or broken package is reported as None
            return None

    return {
        "python": platform.python_version(),
        "torch": version("torch"),
        "numpy": version("numpy"),
        "contrastkit": version("contrastkit"),
    }


def _format_values(values: Mapping[str, float] | None) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in (values or {}).items())


def _summary(rec: dict) -> str:
    parts = [_format_values(rec["metrics"])]
    if rec["baseline"]:
        parts.append("baseline " + _format_values(rec["baseline"]))
    if rec["margin"] is not None:
        parts.append(f"margin {rec['margin']:.4g}")
    if rec.get("gap") is not None:
        parts.append(f"gap {rec['gap']:.4g}")
    tag = "PASS" if rec["passed"] else "FAIL"
    return f"[{tag}] {rec['key']}: {rec['claim']} ({'; '.join(parts)})"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not a readable claims record ({err}); delete it and re-run its notebook"
        ) from None
    if not isinstance(data, dict) or "key" not in data or not isinstance(data.get("checks"), list):
        raise ValueError(f"{path} is not a claims record: expected {{'key': ..., 'checks': [...]}}")
    return data


def _record_path(folder: Path, rec: dict) -> Path:
    seed = rec["seed"]
    return folder / (
        f"{rec['key']}.seed{seed}.json" if isinstance(seed, int) else f"{rec['key']}.json"
    )


def _write_check(folder: Path, rec: dict) -> None:
    path = _record_path(folder, rec)
    checks = _read(path)["checks"] if path.exists() else []
    same = (rec["claim"], rec["quick"])
    checks = [c for c in checks if (c.get("claim"), c.get("quick")) != same] + [rec]
    atomic_write_text(path, json.dumps({"key": rec["key"], "checks": checks}, indent=2) + "\n")


# -- helpers: aggregating --------------------------------------------------------------


def _seed_id(seed: Any) -> Any:
    return tuple(seed) if isinstance(seed, list) else seed


def _seed_order(seed: Any) -> tuple:
    if isinstance(seed, int):
        return (0, seed, ())
    if isinstance(seed, list):
        return (1, 0, tuple(seed))
    return (2, 0, ())


def seed_label(seed: Any) -> str:
    """A record's seed as text: ``"3"``, ``"0,1,2"`` (aggregated over seeds), ``"?"`` (none)."""
    if isinstance(seed, list):
        return ",".join(map(str, seed))
    return "?" if seed is None else str(seed)


def _label_order(label: str) -> tuple:
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)


def _first(values: Mapping[str, float] | None) -> tuple[str, float] | None:
    return next(iter(values.items()), None) if values else None


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "mean": statistics.fmean(values) if values else None,
        "sd": statistics.stdev(values) if len(values) >= 2 else None,
        "values": values,
    }


def _gap(check: dict) -> tuple[float | None, bool]:
    """The check's gap and whether it was derived (first metric - first baseline)."""
    if check.get("gap") is not None:
        return check["gap"], False
    method, base = _first(check.get("metrics")), _first(check.get("baseline"))
    if method is None or base is None:
        return None, False
    return method[1] - base[1], True


def _headline(checks: list[dict], field: str) -> dict | None:
    firsts = [_first(c.get(field)) for c in checks]
    if not all(firsts):
        return None
    names = list(dict.fromkeys(name for name, _ in firsts))
    return {"name": " / ".join(names), **_stats([value for _, value in firsts])}


def _aggregate(chapter: int | None, key: str, claim: str, quick: Any, checks: list[dict]) -> dict:
    gaps = [_gap(c) for c in checks]
    gap = None
    if all(g is not None for g, _ in gaps):
        values = [g for g, _ in gaps]
        gap = {**_stats(values), "min": min(values), "derived": any(d for _, d in gaps)}
    margins = list(dict.fromkeys(c["margin"] for c in checks if c.get("margin") is not None))
    margin = max(margins) if margins else None
    slack = None
    if gap is not None and margin is not None and gap["sd"]:
        slack = (gap["min"] - margin) / gap["sd"]
    held = sum(bool(c.get("passed")) for c in checks)
    return {
        "chapter": chapter,
        "key": key,
        "claim": claim,
        "quick": quick,
        "status": "pass" if held == len(checks) else "fail",
        "n": len(checks),
        "held": held,
        "seeds": [seed_label(c.get("seed")) for c in checks],
        "method": _headline(checks, "metrics"),
        "baseline": _headline(checks, "baseline"),
        "gap": gap,
        "margin": margin,
        "margins": margins,
        "slack": slack,
        "commits": list(dict.fromkeys(c.get("commit") or "" for c in checks)),
        "checks": checks,
    }


def _missing(checks: list[dict]) -> list[str]:
    recorded = {c["key"] for c in checks}
    return [
        e.key
        for e in catalog.ENTRIES
        if e.status == "done" and e.method is not None and e.key not in recorded
    ]


# -- helpers: formatting ---------------------------------------------------------------


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.3g}" if signed else f"{value:.3g}"


def _mean_sd(stats: dict | None, signed: bool = False) -> str:
    if not stats or stats["mean"] is None:
        return ""
    text = _num(stats["mean"], signed)
    return text if stats["sd"] is None else f"{text} ± {stats['sd']:.2g}"


def _chapter_cell(value: Any) -> str:
    return f"{value:02d}" if isinstance(value, int) else "?"


def _mode(quick: Any) -> str:
    return "" if quick is None else ("quick" if quick else "full")


def _claim_cells(row: dict) -> list[str]:
    if row["status"] == "missing":
        return [_chapter_cell(row["chapter"]), row["key"], "(no record: run the notebook)"] + [
            "missing" if col == "held" else "" for col in _CLAIM_COLUMNS[3:]
        ]
    held = f"{row['held']}/{row['n']}"
    gap = row["gap"]
    margins = row["margins"]
    return [
        _chapter_cell(row["chapter"]),
        row["key"],
        row["claim"],
        _mode(row["quick"]),
        held if row["status"] == "pass" else f"**{held}**",
        _headline_cell(row["method"]),
        _headline_cell(row["baseline"]),
        _mean_sd(gap, signed=True) + (" †" if gap and gap["derived"] else ""),
        _num(gap["min"], signed=True) if gap else "",
        "–".join(f"{m:.4g}" for m in sorted(margins)),
        f"{round(row['slack'], 1) + 0.0:.1f} sd" if row["slack"] is not None else "",
        ",".join(row["seeds"]),
    ]


def _headline_cell(stats: dict | None) -> str:
    return f"{stats['name']} {_mean_sd(stats)}" if stats else ""


def _check_rows(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        if row["status"] == "missing":
            out.append(row)
            continue
        for check in row["checks"]:
            status = "pass" if check.get("passed") else "fail"
            out.append({"chapter": row["chapter"], **check, "status": status})
    return out


def _check_cells(row: dict) -> list[str]:
    cells = []
    for column in _CHECK_COLUMNS:
        value = row.get(column)
        if column == "passed":
            cell = {"pass": "yes", "fail": "**NO**", "missing": "missing"}[row["status"]]
        elif column in ("metrics", "baseline"):
            cell = _format_values(value)
        elif column == "chapter":
            cell = _chapter_cell(value)
        elif column in ("margin", "gap") and value is not None:
            cell = f"{value:.4g}"
        elif column == "seed" and isinstance(value, list):
            cell = ",".join(map(str, value))
        elif column == "claim" and row["status"] == "missing":
            cell = "(no record: run the notebook)"
        else:
            cell = "" if value is None else str(value)
        cells.append(cell)
    return cells


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(columns: Sequence[str], cells: list[list[str]], footer: str) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in cells]
    return "\n".join([*lines, "", footer]) + "\n"


_COLOUR = {"pass": "#e6f4ea", "fail": "#fce8e6", "missing": "#fff4e5"}


def _html(rows: list[dict], summary: str) -> str:
    import plotly.offline  # only the HTML report needs it

    head = "".join(f"<th>{html.escape(c)}</th>" for c in _CLAIM_COLUMNS)
    body = "\n".join(
        f'<tr style="background:{_COLOUR[row["status"]]}">'
        + "".join(f"<td>{html.escape(c.replace('**', ''))}</td>" for c in _claim_cells(row))
        + "</tr>"
        for row in rows
    )
    sections = "\n".join(
        _html_claim(i, row) for i, row in enumerate(rows) if row["status"] != "missing"
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>contrastkit claims report</title>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;max-width:1400px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
section{{margin:2em 0}} details table{{font-size:90%}}</style></head>
<body><h1>contrastkit claims report</h1>
<p>{html.escape(summary)}</p>
<p><small>{html.escape(_LEGEND)}</small></p>
<table><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table>
<h2>Gap per seed against the margin</h2>
{sections}
</body></html>
"""


def _html_claim(index: int, row: dict) -> str:
    title = f"{row['key']}: {row['claim']}" + (
        f" ({_mode(row['quick'])})" if row["quick"] is not None else ""
    )
    held = f"held on {row['held']} of {row['n']} seeds"
    if row["gap"] is None:
        figure = "<p><em>no gap: the checks record neither a gap nor a baseline</em></p>"
    else:
        figure = _gap_figure(index, row)
    per_seed = "".join(
        f"<tr><td>{html.escape(seed_label(c.get('seed')))}</td>"
        f"<td>{'yes' if c.get('passed') else 'NO'}</td>"
        f"<td>{html.escape(_num(_gap(c)[0], signed=True))}</td>"
        f"<td>{html.escape(_format_values(c.get('metrics')))}</td>"
        f"<td>{html.escape(_format_values(c.get('baseline')))}</td>"
        f"<td>{html.escape(str(c.get('seconds', '')))}</td>"
        f"<td>{html.escape(str(c.get('threads') or ''))}</td>"
        f"<td>{html.escape(str(c.get('device') or ''))}</td>"
        f"<td>{html.escape((c.get('commit') or '')[:10])}</td>"
        f"<td>{html.escape(c.get('notes') or '')}</td></tr>"
        for c in row["checks"]
    )
    details = (
        "<details><summary>each seed</summary><table><thead><tr><th>seed</th><th>passed</th>"
        "<th>gap</th><th>metrics</th><th>baseline</th><th>seconds</th><th>threads</th>"
        f"<th>device</th><th>commit</th><th>notes</th></tr></thead><tbody>{per_seed}</tbody>"
        "</table></details>"
    )
    return (
        f'<section id="claim-{index}"><h3>{html.escape(title)}</h3>'
        f"<p>{held}</p>{figure}{details}</section>"
    )


def _gap_figure(index: int, row: dict) -> str:
    import plotly.graph_objects as go  # only the HTML report needs it

    checks, gap = row["checks"], row["gap"]
    fig = go.Figure(
        go.Scatter(
            x=row["seeds"],
            y=gap["values"],
            mode="markers",
            marker={
                "size": 12,
                "color": ["#188038" if c.get("passed") else "#d93025" for c in checks],
            },
            text=["held" if c.get("passed") else "failed" for c in checks],
            hovertemplate="seed %{x}: gap %{y:.4g} (%{text})<extra></extra>",
            name="gap",
        )
    )
    if row["margin"] is not None:
        fig.add_hline(
            y=row["margin"],
            line_dash="dash",
            line_color="#5f6368",
            annotation_text=f"margin {row['margin']:.4g}",
            annotation_position="top left",
        )
    fig.add_hline(y=0, line_width=1, line_color="#dadce0")
    label = "gap" + (" (first metric - first baseline)" if gap["derived"] else "")
    fig.update_layout(
        height=260,
        width=520,
        margin={"l": 60, "r": 20, "t": 20, "b": 40},
        xaxis={"title": "seed", "type": "category"},
        yaxis={"title": label},
        showlegend=False,
        template="plotly_white",
    )
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"gap-{index}")
