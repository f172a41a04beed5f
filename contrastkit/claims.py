"""Record a notebook's measured claim, and turn the records into the claims report.

Every notebook ends with a claim check: the paper's key claim restated at toy scale,
measured, compared with a baseline and a margin. ``record`` stores that check as JSON
in ``<results_dir>/<key>.json`` (one file per notebook, holding one or more checks);
``report`` gathers the files into a table in catalog order, flagging notebooks that
are marked done but recorded nothing.

Example, the claim cell of a notebook (``SEED``, ``QUICK``, ``RESULTS_DIR`` are its
papermill parameters)::

    gap = knn_acc - knn_acc_pixels
    claims.record(
        "simclr", "kNN accuracy beats raw pixels by 10 points",
        metrics={"knn_acc": knn_acc}, baseline={"knn_acc": knn_acc_pixels},
        passed=gap >= 0.10, margin=0.10, seed=SEED, quick=QUICK, results_dir=RESULTS_DIR,
    )
    # [PASS] simclr: kNN accuracy beats raw pixels by 10 points (knn_acc=0.81;
    #        baseline knn_acc=0.42; margin 0.1)      <- printed on one line
    assert gap >= 0.10, f"kNN gain {gap:.3f} < 0.10"
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contrastkit import catalog

#: Environment variable read when ``results_dir`` is not given.
RESULTS_ENV = "CONTRASTKIT_RESULTS_DIR"
#: Where the CLI reads and writes records by default.
DEFAULT_RESULTS_DIR = "results/claims"

# record(seconds=None) reports the time since this module was imported; in a notebook
# that is (close to) the time since its `import contrastkit` cell.
_IMPORTED_AT = time.perf_counter()

_COLUMNS = ("chapter", "key", "claim", "metrics", "baseline", "margin", "seed", "quick", "passed")


def record(
    key: str,
    claim: str,
    metrics: Mapping[str, float],
    baseline: Mapping[str, float] | None = None,
    *,
    passed: bool,
    margin: float | None = None,
    seed: int | Sequence[int] | None = None,
    quick: bool | None = None,
    results_dir: str | os.PathLike | None = None,
    notes: str = "",
    seconds: float | None = None,
    device: Any = None,
) -> dict:
    """Record one claim check of a notebook and print a one-line summary.

    The check is stored in ``<results_dir>/<key>.json`` as ``{"key": ..., "checks":
    [...]}``. A notebook may record several checks under its key; recording a check
    whose ``claim`` text is already there replaces that check. The file is written
    atomically (temporary file in the same folder, then ``os.replace``).

    Args:
        key: The notebook's catalog key, e.g. ``"simclr"``.
        claim: The claim in one sentence, e.g. "kNN accuracy beats raw pixels by 10 pts".
        metrics: Measured values, name -> number (tensors/NumPy scalars are converted).
        baseline: The baseline's values under the same names, or None.
        passed: Whether the check passed (keyword-only, required).
        margin: The margin the check asserted, if any.
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
        ValueError: If ``key`` is not in the catalog, ``claim`` is empty, or a metric is
            not a finite number.
        TypeError: If ``passed`` is not a bool or a mapping argument is not a mapping.
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
        "seed": _seed(seed),
        "quick": None if quick is None else bool(quick),
        "passed": _bool("passed", passed),
        "notes": notes,
        "seconds": round(_finite("seconds", _elapsed() if seconds is None else seconds), 3),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
    """Return every recorded check in ``results_dir``, in catalog order.

    Args:
        results_dir: Folder holding ``<key>.json`` files written by :func:`record`.

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
    order = {k: i for i, k in enumerate(catalog.keys())}
    checks = []
    for path in sorted(folder.glob("*.json")):
        data = _read(path)
        checks += [{**check, "key": data["key"]} for check in data["checks"]]
    return sorted(checks, key=lambda c: order.get(c["key"], len(order)))


def missing_done(results_dir: str | os.PathLike) -> list[str]:
    """Return the keys marked done in the catalog that have no record in ``results_dir``.

    ``start_here`` (no method, no paper claim) is not expected to record a check.
    """
    return _missing(load(results_dir))


def report(results_dir: str | os.PathLike | None = None, fmt: str = "markdown") -> str:
    """Build the claims report: one row per check, plus a row per missing done notebook.

    Args:
        results_dir: Folder of records; defaults to ``$CONTRASTKIT_RESULTS_DIR``, then
            ``results/claims``.
        fmt: ``"markdown"``, ``"html"`` (a standalone page) or ``"json"``.

    Returns:
        The report as text, rows in catalog order.

    Raises:
        ValueError: If ``fmt`` is not one of the three formats.
        FileNotFoundError: If the results folder does not exist.
    """
    if fmt not in ("markdown", "html", "json"):
        raise ValueError(f"fmt must be 'markdown', 'html' or 'json', got {fmt!r}")
    results_dir = results_dir or os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS_DIR
    rows = _rows(results_dir)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("pass", "fail", "missing")}
    summary = (
        f"{len(rows) - counts['missing']} checks: {counts['pass']} passed, "
        f"{counts['fail']} failed; {counts['missing']} done notebooks without a record"
    )
    if fmt == "json":
        payload = {"results_dir": str(results_dir), "summary": counts, "rows": rows}
        return json.dumps(payload, indent=2)
    cells = [[_cell(col, row) for col in _COLUMNS] for row in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in cells]
        return "\n".join([*lines, "", summary]) + "\n"
    return _html(rows, cells, summary)


# -- helpers ---------------------------------------------------------------------------


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
    if seed is None or isinstance(seed, int):
        return seed
    if isinstance(seed, Sequence) and all(isinstance(s, int) for s in seed):
        return list(seed)
    raise TypeError(f"seed must be an int or a list of ints, got {seed!r}")


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


def _write_check(folder: Path, rec: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rec['key']}.json"
    checks = _read(path)["checks"] if path.exists() else []
    checks = [c for c in checks if c.get("claim") != rec["claim"]] + [rec]
    text = json.dumps({"key": rec["key"], "checks": checks}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{rec['key']}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _missing(checks: list[dict]) -> list[str]:
    recorded = {c["key"] for c in checks}
    return [
        e.key
        for e in catalog.ENTRIES
        if e.status == "done" and e.method is not None and e.key not in recorded
    ]


def _rows(results_dir: str | os.PathLike) -> list[dict]:
    checks = load(results_dir)
    chapter_of = {e.key: e.chapter for e in catalog.ENTRIES}
    rows = [
        {"chapter": chapter_of.get(c["key"]), **c, "status": "pass" if c["passed"] else "fail"}
        for c in checks
    ]
    rows += [{"chapter": chapter_of[k], "key": k, "status": "missing"} for k in _missing(checks)]
    order = {k: i for i, k in enumerate(catalog.keys())}
    return sorted(rows, key=lambda r: order.get(r["key"], len(order)))  # stable: checks keep order


def _cell(column: str, row: dict) -> str:
    value = row.get(column)
    if column == "passed":
        return {"pass": "yes", "fail": "**NO**", "missing": "missing"}[row["status"]]
    if column in ("metrics", "baseline"):
        return _format_values(value)
    if column == "chapter":
        return f"{value:02d}" if isinstance(value, int) else "?"
    if column == "margin" and value is not None:
        return f"{value:.4g}"
    if column == "seed" and isinstance(value, list):
        return ",".join(map(str, value))
    if column == "claim" and row["status"] == "missing":
        return "(no record: run the notebook)"
    return "" if value is None else str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _html(rows: list[dict], cells: list[list[str]], summary: str) -> str:
    colour = {"pass": "#e6f4ea", "fail": "#fce8e6", "missing": "#fff4e5"}
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    body = "\n".join(
        f'<tr style="background:{colour[row["status"]]}">'
        + "".join(f"<td>{html.escape(c.replace('**', ''))}</td>" for c in cell_row)
        + "</tr>"
        for row, cell_row in zip(rows, cells, strict=True)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>contrastkit claims report</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>
<body><h1>contrastkit claims report</h1>
<p>{html.escape(summary)}</p>
<table><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
