"""Notebooks are stored stripped with valid metadata; done catalog entries are complete.

(The notebooks themselves are executed by nbval in `make test`, once each.)
"""

import importlib
import json
import sys
from pathlib import Path

import pytest

from contrastkit import catalog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtool  # noqa: E402
import readme  # noqa: E402

NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_stripped_with_kernelspec_and_parameters(path):
    assert nbtool.problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameters_cell_has_the_common_names(path):
    nb = json.loads(path.read_text())
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(params["source"])
    for name in ("QUICK", "SEED", "DEVICE", "RESULTS_DIR"):
        assert f"{name} =" in source, f"{path.name}: parameters cell lacks {name}"
    assert "QUICK = True" in source, f"{path.name}: the default a user gets must be quick mode"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_catalog(path):
    nb = json.loads(path.read_text())
    key = nb["metadata"].get("contrastkit", {}).get("key")
    entry = catalog.get(key)
    assert (ROOT / entry.notebook) == path, f"{path} should be at {entry.notebook}"


DONE = [e for e in catalog.ENTRIES if e.status == "done"]


@pytest.mark.parametrize("entry", DONE, ids=lambda e: e.key)
def test_done_entry_has_notebook_method_and_claim(entry):
    path = ROOT / entry.notebook
    assert path.exists(), f"{entry.key} is done but {entry.notebook} is missing"
    if entry.method:
        module = importlib.import_module(entry.method)
        assert hasattr(module, "METHOD"), f"{entry.method} defines no METHOD"
        code = "\n".join(
            "".join(c["source"])
            for c in json.loads(path.read_text())["cells"]
            if c["cell_type"] == "code"
        )
        assert "claims.record(" in code and f'"{entry.key}"' in code, (
            f"{entry.notebook} does not record a claim under {entry.key!r}"
        )


def test_readme_notebook_list_is_current():
    text = (ROOT / "README.md").read_text()
    assert readme.render(text) == text, (
        "README's notebook list is stale: run python tools/readme.py"
    )
