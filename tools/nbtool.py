"""Write, strip and check the suite's notebooks (a developer tool; not part of the package).

Notebooks are authored as Python lists of cells (``build``), stored with outputs stripped except
the cells marked ``# NBVAL_CHECK_OUTPUT``: their outputs are the reference nbval compares
against, so they are kept (``refresh`` re-executes a notebook and stores them).

    python tools/nbtool.py strip notebooks/**/*.ipynb     # strip in place
    python tools/nbtool.py check notebooks/**/*.ipynb     # exit 1 on a problem
    python tools/nbtool.py refresh notebooks/01_foundations/01_simclr.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}


def build(path: str | Path, cells: list[tuple[str, str]], key: str | None = None) -> None:
    """Write a notebook from ``(kind, source)`` pairs; kind is ``md``, ``code`` or ``params``.

    ``params`` is the papermill ``parameters`` cell (tagged). ``key`` goes into the notebook's
    metadata (``contrastkit.key``) so tools can map a notebook to its catalog entry.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    if key:
        nb.metadata["contrastkit"] = {"key": key}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        elif kind in ("code", "params"):
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
        else:
            raise ValueError(f"cell kind must be md, code or params, got {kind!r}")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"  # stable ids keep diffs small
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def strip(path: str | Path) -> bool:
    """Strip outputs (keeping ``NBVAL_CHECK_OUTPUT`` cells'), counts and run metadata.

    Returns True if the file changed.
    """
    path = Path(path)
    before = path.read_text()
    nb = nbformat.reads(before, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        keep = CHECK_MARK in cell.source
        # nbval refuses a reference cell whose outputs have no execution count ("unrun
        # reference cell has outputs"), so reference cells keep a constant count of 1.
        cell.execution_count = 1 if keep and cell.outputs else None
        if keep:
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = 1
        else:
            cell.outputs = []
        for k in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(k, None)
    for k in ("papermill", "widgets"):
        nb.metadata.pop(k, None)
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after)
        return True
    return False


def problems(path: str | Path) -> list[str]:
    """What is wrong with a stored notebook (empty when it is fine)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        return [f"{path}: not valid JSON ({e})"]
    found = []
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        found.append(f"{path}: kernelspec must name the 'python3' kernel")
    cells = nb.get("cells", [])
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells):
        found.append(f"{path}: no cell tagged 'parameters'")
    for i, c in enumerate(cells):
        if c.get("cell_type") != "code":
            continue
        checked = CHECK_MARK in "".join(c.get("source", ""))
        if c.get("execution_count") not in (None, 1) or (c.get("execution_count") and not checked):
            found.append(f"{path}: cell {i} has an execution count (run tools/nbtool.py strip)")
        if c.get("outputs") and not checked:
            found.append(f"{path}: cell {i} has outputs (run tools/nbtool.py strip)")
    return found


def refresh(path: str | Path) -> None:
    """Execute a notebook with its defaults, then strip it, keeping the reference outputs."""
    import papermill

    path = Path(path)
    papermill.execute_notebook(
        str(path), str(path), kernel_name="python3", cwd=str(path.parent), progress_bar=False
    )
    strip(path)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("strip", "check", "refresh"):
        print(__doc__)
        return 2
    cmd, paths = argv[0], argv[1:]
    if cmd == "strip":
        for p in paths:
            if strip(p):
                print(f"stripped {p}")
        return 0
    if cmd == "refresh":
        for p in paths:
            refresh(p)
            print(f"refreshed {p}")
        return 0
    found = [msg for p in paths for msg in problems(p)]
    print("\n".join(found) or f"{len(paths)} notebook(s) fine")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
