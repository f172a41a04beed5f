"""The reading list: every notebook of the suite, its paper and where its code lives.

The list itself is package data, one file: ``contrastkit/reading_list.json`` (63 papers in 10
chapters plus the foundations they build on, in reading order, with year, venue, authors and
link). Each entry's ``key`` names its notebook, its method module and its claims record.

A paper's status is derived, never kept by hand: an entry is ``"done"`` when its notebook is in
the checkout and records a claim (``claims.record``) and, for a paper, its method module is in
``contrastkit/methods/``. Outside a checkout (an installed wheel without ``notebooks/``) only the
method module is looked at.

Years and venues come from the paper cards; where a card gives the venue only "from
knowledge" it has not been checked against the paper. The year is the venue's year
when the venue is known, else the year the paper first appeared. Authors are filled in
only where known; an empty string means "not recorded here", never "anonymous".

Example:
    >>> from contrastkit import catalog
    >>> catalog.get("simclr").notebook
    'notebooks/01_foundations/01_simclr.ipynb'
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

START_HERE_NOTEBOOK = "notebooks/00_start_here.ipynb"
READING_LIST = Path(__file__).with_name("reading_list.json")
_PACKAGE = Path(__file__).parent
_ROOT = _PACKAGE.parent  # the checkout, when the package is used from one


@dataclass(frozen=True)
class Entry:
    """One notebook of the suite and the paper it reproduces.

    Attributes:
        key: Short name used for the notebook file, method module and claims record.
        title: Paper title (for ``start_here``, what the notebook covers).
        authors: Author list, or "" where not recorded.
        year: Year of the venue (or of first appearance); None for ``start_here``.
        venue: Venue, e.g. "ICML 2020"; "arXiv" for preprints; "" where unknown.
        chapter: Chapter number, 1..10.
        chapter_title: Chapter title, e.g. "Foundations".
        card: Number of the paper card in the project's ``papers/cards_*.md``, or None.
        notebook: Notebook path relative to the repository root.
        method: Dotted module path of the method, or None (``start_here``).
        status: "done" if the notebook has landed (derived, see :func:`derive_status`), else
            "planned".
        url: Link to the paper (arXiv abstract) where known, else "".
    """

    key: str
    title: str
    authors: str
    year: int | None
    venue: str
    chapter: int
    chapter_title: str
    card: int | None
    notebook: str
    method: str | None
    status: str
    url: str = ""


def derive_status(key: str, notebook: str, method: str | None, root: Path = _ROOT) -> str:
    """``"done"`` when the entry's work has landed, else ``"planned"``.

    Landed: the notebook exists under ``root`` and calls ``claims.record``, and the method
    module (if the entry has one) exists in the package. Without a ``notebooks/`` folder under
    ``root`` (an installed package), only the method module counts.
    """
    module_ok = method is None or (_PACKAGE / "methods" / f"{key}.py").is_file()
    if not (root / "notebooks").is_dir():
        return "done" if module_ok else "planned"
    path = root / notebook
    if not (module_ok and path.is_file()):
        return "planned"
    return "done" if "claims.record" in path.read_text(encoding="utf-8") else "planned"


def _load(path: Path = READING_LIST) -> tuple[dict[int, str], dict[int, str], tuple[Entry, ...]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    chapters: dict[int, str] = {}
    folders: dict[int, str] = {}
    entries: list[Entry] = []
    for chapter in doc["chapters"]:
        number, folder = int(chapter["chapter"]), chapter["folder"]
        chapters[number], folders[number] = chapter["title"], folder
        count = 0
        for item in chapter["entries"]:
            key = item["key"]
            if key == "start_here":  # lives outside the chapter folders, takes no number
                notebook, method = START_HERE_NOTEBOOK, None
            else:
                count += 1
                notebook = f"notebooks/{folder}/{count:02d}_{key}.ipynb"
                method = f"contrastkit.methods.{key}"
            entries.append(
                Entry(
                    key=key,
                    title=item["title"],
                    authors=item.get("authors", ""),
                    year=item.get("year"),
                    venue=item.get("venue", ""),
                    chapter=number,
                    chapter_title=chapter["title"],
                    card=item.get("card"),
                    notebook=notebook,
                    method=method,
                    status=derive_status(key, notebook, method),
                    url=item.get("url", ""),
                )
            )
    return chapters, folders, tuple(entries)


#: Chapter number -> title; chapter number -> notebook folder; every entry in reading order.
CHAPTERS, CHAPTER_DIRS, ENTRIES = _load()
_BY_KEY: dict[str, Entry] = {e.key: e for e in ENTRIES}
assert len(_BY_KEY) == len(ENTRIES), "duplicate key in the catalog"

#: Keys whose work has landed (derived; kept for code that asks ``key in catalog.DONE``).
DONE: frozenset[str] = frozenset(e.key for e in ENTRIES if e.status == "done")


def keys() -> list[str]:
    """Return every key, in reading order."""
    return [e.key for e in ENTRIES]


def get(key: str) -> Entry:
    """Return the entry for ``key``.

    Args:
        key: A catalog key such as ``"simclr"``.

    Returns:
        The matching :class:`Entry`.

    Raises:
        KeyError: If ``key`` is not in the catalog; the message lists close matches.
    """
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(key), _BY_KEY, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `contrastkit list`"
        raise KeyError(f"unknown catalog key {key!r}; {hint}") from None


def by_chapter() -> dict[int, list[Entry]]:
    """Return the entries grouped by chapter number (1..10), each list in reading order."""
    groups: dict[int, list[Entry]] = {c: [] for c in CHAPTERS}
    for e in ENTRIES:
        groups[e.chapter].append(e)
    return groups


def as_dicts() -> list[dict]:
    """Return every entry as a plain dict (JSON-ready), in reading order."""
    return [dataclasses.asdict(e) for e in ENTRIES]


def notebook_number(entry: Entry) -> str:
    """Return the two-digit number of an entry's notebook ("00" for ``start_here``)."""
    return entry.notebook.rsplit("/", 1)[-1][:2]


def notebook_markdown_list() -> str:
    """Return a Markdown list of all notebooks grouped by chapter, for the README.

    Each line reads ``NN key — title (year) — status``, the key linking to the notebook.
    """
    lines: list[str] = []
    for chapter, entries in by_chapter().items():
        lines += [*([""] if lines else []), f"### {chapter:02d} {CHAPTERS[chapter]}", ""]
        for e in entries:
            year = f" ({e.year})" if e.year else ""
            link = f"[`{e.key}`]({e.notebook})"
            lines.append(f"- {notebook_number(e)} {link} — {e.title}{year} — {e.status}")
    return "\n".join(lines) + "\n"
