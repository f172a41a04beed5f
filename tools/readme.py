"""Regenerate the README's notebook list from the catalog: `python tools/readme.py`.

The list sits between the markers below; `tests/test_notebooks.py` fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def render(text: str) -> str:
    from contrastkit.catalog import notebook_markdown_list

    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{notebook_markdown_list().strip()}\n{END}{tail}"


if __name__ == "__main__":
    old = README.read_text()
    new = render(old)
    if new != old:
        README.write_text(new)
        print("README.md: notebook list updated")
    sys.exit(0)
