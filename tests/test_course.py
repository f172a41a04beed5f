"""Every landed notebook is course material: it opens with learning objectives, prerequisites
and a study time, closes with what to remember, exercises with hidden worked solutions and the
deviations from the paper, and never refers to documents users do not have ("the card")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from contrastkit import catalog

ROOT = Path(__file__).resolve().parents[1]
DONE = [e for e in catalog.ENTRIES if e.status == "done"]
OPENING = ("learning objectives", "prerequisites", "study time")
CLOSING = ("what to remember", "exercises", "deviations from the paper")


def _markdown(entry) -> list[str]:
    nb = json.loads((ROOT / entry.notebook).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("entry", DONE, ids=lambda e: e.key)
def test_opening_and_closing_sections(entry):
    cells = _markdown(entry)
    head = "\n".join(cells[:3]).lower()
    missing = [s for s in OPENING if s not in head]
    assert not missing, f"{entry.key}: the first markdown cells lack {missing}"
    text = "\n".join(cells).lower()
    missing = [s for s in CLOSING if s not in text]
    assert not missing, f"{entry.key}: no section {missing}"
    if entry.key != "start_here":
        assert "deviations from the paper" in text


@pytest.mark.parametrize("entry", DONE, ids=lambda e: e.key)
def test_exercises_have_hidden_solutions(entry):
    text = "\n".join(_markdown(entry))
    exercises = text[text.lower().index("exercises") :]
    assert len(re.findall(r"<details>", exercises)) >= 2, f"{entry.key}: fewer than 2 solutions"
    assert exercises.count("<details>") == exercises.count("</details>")


@pytest.mark.parametrize("entry", DONE, ids=lambda e: e.key)
def test_no_reference_to_cards(entry):
    nb = (ROOT / entry.notebook).read_text(encoding="utf-8")
    assert not re.search(r"\bcards?\b", nb, re.I), f"{entry.key} mentions a card"


def test_readme_and_glossary_mention_no_card():
    for path in (ROOT / "README.md", ROOT / "docs" / "glossary.md"):
        assert not re.search(r"\bcards?\b", path.read_text(encoding="utf-8"), re.I), path
