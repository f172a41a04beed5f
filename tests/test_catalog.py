"""The catalog: consistent with the project's reading list, well-formed, helpful errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from contrastkit import catalog

CATALOG_MD = Path(__file__).parents[2] / "shared/papers/catalog.md"


def _reading_list() -> list[tuple[int, str, str, str, str]]:
    """(chapter, chapter title, key, title column, card column) for every table row."""
    if not CATALOG_MD.is_file():
        pytest.skip(f"{CATALOG_MD} not present (only in the project workspace)")
    rows, chapter, chapter_title = [], 0, ""
    for line in CATALOG_MD.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"## (\d\d) (.+)", line):
            chapter, chapter_title = int(m[1]), m[2].split(" (")[0]
        elif (m := re.match(r"\| (\w+) \| (.+) \| (.+) \|$", line)) and m[1] != "key":
            rows.append((chapter, chapter_title, m[1], m[2], m[3]))
    return rows


def test_matches_reading_list_keys_chapters_and_cards():
    rows = _reading_list()
    assert len(catalog.ENTRIES) == len(rows) == 73  # start_here + 9 foundations + 63 papers
    assert [e.key for e in catalog.ENTRIES] == [r[2] for r in rows]
    for e, (chapter, chapter_title, _, _, card) in zip(catalog.ENTRIES, rows, strict=True):
        assert (e.chapter, e.chapter_title) == (chapter, chapter_title), e.key
        assert e.card == (None if card == "-" else int(card)), e.key


def test_paper_titles_match_reading_list():
    for chapter, _, key, title, _ in _reading_list():
        if chapter > 1:  # chapter 1's table describes the notebook rather than naming a paper
            assert catalog.get(key).title == title


def test_keys_unique_and_lookup():
    keys = catalog.keys()
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in keys)
    assert catalog.get("simclr").key == "simclr"


def test_notebook_paths_and_methods():
    assert catalog.get("start_here").notebook == "notebooks/00_start_here.ipynb"
    assert catalog.get("start_here").method is None
    assert catalog.get("simclr").notebook == "notebooks/01_foundations/01_simclr.ipynb"
    assert catalog.get("clip").notebook == "notebooks/01_foundations/07_clip.ipynb"
    assert catalog.get("sepclr").notebook == "notebooks/10_people_domains_lifelong/03_sepclr.ipynb"
    for chapter, entries in catalog.by_chapter().items():
        numbered = [e for e in entries if e.key != "start_here"]
        for i, e in enumerate(numbered, start=1):
            folder = catalog.CHAPTER_DIRS[chapter]
            assert e.notebook == f"notebooks/{folder}/{i:02d}_{e.key}.ipynb"
            assert e.method == f"contrastkit.methods.{e.key}"
            assert re.fullmatch(r"notebooks/\d\d_[a-z0-9_]+/\d\d_[a-z0-9_]+\.ipynb", e.notebook)


def test_fields_well_formed():
    assert list(catalog.CHAPTERS) == list(range(1, 11))
    for e in catalog.ENTRIES:
        assert e.title and e.chapter_title == catalog.CHAPTERS[e.chapter]
        assert e.status == ("done" if e.key in catalog.DONE else "planned")
        assert e.year is None or 2019 <= e.year <= 2026, e.key
        assert e.url == "" or e.url.startswith("https://"), e.key
    with pytest.raises(AttributeError):
        catalog.ENTRIES[0].key = "x"  # frozen


def test_get_unknown_key_suggests_close_matches():
    with pytest.raises(KeyError, match="did you mean simclr"):
        catalog.get("simclrr")
    with pytest.raises(KeyError, match="contrastkit list"):
        catalog.get("zzzzzz")


def test_by_chapter_as_dicts_and_markdown_list():
    groups = catalog.by_chapter()
    assert sum(len(v) for v in groups.values()) == len(catalog.ENTRIES)
    assert groups[1][0].key == "start_here"
    dicts = catalog.as_dicts()
    assert json.loads(json.dumps(dicts)) == dicts
    assert dicts[1]["key"] == "simclr" and set(dicts[0]) >= {"notebook", "status", "url"}
    md = catalog.notebook_markdown_list()
    assert md.count("\n### ") == 9 and md.startswith("### 01 Foundations")
    assert "- 01 [`simclr`](notebooks/01_foundations/01_simclr.ipynb) — A Simple" in md
    assert all(f"[`{k}`]" in md for k in catalog.keys())


def test_status_is_derived_from_notebook_claim_and_method(tmp_path):
    nb = "notebooks/01_foundations/01_simclr.ipynb"
    assert catalog.derive_status("simclr", nb, "contrastkit.methods.simclr") == "done"
    (tmp_path / "notebooks" / "01_foundations").mkdir(parents=True)
    assert catalog.derive_status("simclr", nb, "m", root=tmp_path) == "planned"  # no notebook
    (tmp_path / nb).write_text('{"cells": ["print(1)"]}')
    assert catalog.derive_status("simclr", nb, "m", root=tmp_path) == "planned"  # no claim
    (tmp_path / nb).write_text('{"cells": ["ck.claims.record(...)"]}')
    assert catalog.derive_status("simclr", nb, "m", root=tmp_path) == "done"
    # a notebook without its method module is not done
    assert catalog.derive_status("nosuchkey", nb, "m", root=tmp_path) == "planned"
    # outside a checkout only the method module counts
    assert catalog.derive_status("simclr", nb, "m", root=tmp_path / "elsewhere") == "done"
    assert catalog.derive_status("nosuchkey", nb, "m", root=tmp_path / "elsewhere") == "planned"


def test_reading_list_is_one_package_data_file():
    doc = json.loads(catalog.READING_LIST.read_text(encoding="utf-8"))
    keys = [e["key"] for ch in doc["chapters"] for e in ch["entries"]]
    assert keys == catalog.keys()
    assert not any("status" in e for ch in doc["chapters"] for e in ch["entries"])
