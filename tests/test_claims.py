"""Claims: recording checks atomically, validating input, building the report."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest

from contrastkit import catalog, claims


@pytest.fixture(autouse=True)
def _no_results_env(monkeypatch):
    monkeypatch.delenv(claims.RESULTS_ENV, raising=False)


@pytest.fixture
def done(monkeypatch):
    """Pretend exactly ``keys`` are done (independent of the catalog's DONE set)."""

    def set_done(*keys: str) -> None:
        entries = tuple(
            dataclasses.replace(e, status="done" if e.key in keys else "planned")
            for e in catalog.ENTRIES
        )
        monkeypatch.setattr(catalog, "ENTRIES", entries)

    return set_done


def _record(tmp_path, key="simclr", claim="kNN beats pixels", **kw):
    kw = {"metrics": {"knn": 0.8}, "baseline": {"knn": 0.4}, "passed": True, **kw}
    return claims.record(key, claim, results_dir=tmp_path, **kw)


def test_record_writes_file_and_returns_record(tmp_path, capsys):
    rec = _record(tmp_path, margin=0.1, seed=[0, 1, 2], quick=True, device="cpu", seconds=2.5)
    assert "[PASS] simclr: kNN beats pixels (knn=0.8; baseline knn=0.4; margin 0.1)" in (
        capsys.readouterr().out
    )
    data = json.loads((tmp_path / "simclr.json").read_text())
    assert data["key"] == "simclr" and data["checks"] == [rec]
    assert rec["seed"] == [0, 1, 2] and rec["seconds"] == 2.5 and rec["device"] == "cpu"
    assert rec["timestamp"].endswith("Z") and rec["versions"]["python"]
    assert os.listdir(tmp_path) == ["simclr.json"]  # no temporary file left behind


def test_same_claim_replaces_other_claims_accumulate(tmp_path):
    _record(tmp_path, metrics={"knn": 0.5}, passed=False)
    _record(tmp_path, metrics={"knn": 0.9})
    _record(tmp_path, claim="a second check")
    checks = json.loads((tmp_path / "simclr.json").read_text())["checks"]
    assert [(c["claim"], c["metrics"]["knn"]) for c in checks] == [
        ("kNN beats pixels", 0.9),
        ("a second check", 0.8),
    ]


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    _record(tmp_path)
    before = (tmp_path / "simclr.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _record(tmp_path, claim="another")
    assert (tmp_path / "simclr.json").read_text() == before
    assert os.listdir(tmp_path) == ["simclr.json"]


def test_results_dir_from_environment_or_nowhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = claims.record("clip", "zero-shot works", {"acc": 0.7}, passed=True)
    assert rec["seconds"] >= 0 and os.listdir(tmp_path) == []
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path / "env"))
    claims.record("clip", "zero-shot works", {"acc": 0.7}, passed=True)
    assert (tmp_path / "env" / "clip.json").is_file()


def test_converts_numpy_scalars():
    np = pytest.importorskip("numpy")
    rec = claims.record("simclr", "c", {"knn": np.float32(0.5)}, passed=np.bool_(True))
    assert rec["metrics"] == {"knn": 0.5} and rec["passed"] is True
    assert type(rec["metrics"]["knn"]) is float


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": "simclear"}, ValueError, "key: unknown catalog key 'simclear'; did you mean"),
        ({"claim": " "}, ValueError, "claim must be a non-empty"),
        ({"metrics": {"knn": math.nan}}, ValueError, r"metrics\['knn'\] must be a finite"),
        ({"metrics": {}}, ValueError, "at least one"),
        ({"metrics": {"knn": "high"}}, ValueError, "must be a number"),
        ({"baseline": {"knn": float("nan")}}, ValueError, r"baseline\['knn'\]"),
        ({"metrics": [0.5]}, TypeError, "metrics must be a dict"),
        ({"passed": "yes"}, TypeError, "passed must be True or False"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
    ],
)
def test_record_rejects_bad_input(tmp_path, kwargs, error, match):
    args = {"key": "simclr", "claim": "c", "metrics": {"knn": 0.8}, "passed": True, **kwargs}
    with pytest.raises(error, match=match):
        claims.record(args.pop("key"), args.pop("claim"), results_dir=tmp_path, **args)
    assert not list(tmp_path.iterdir())


def test_passed_is_required(tmp_path):
    with pytest.raises(TypeError, match="passed"):
        claims.record("simclr", "c", {"knn": 0.8}, results_dir=tmp_path)


def test_load_and_missing_done(tmp_path, done):
    done("start_here", "simclr", "clip", "moco")
    _record(tmp_path, key="clip")
    _record(tmp_path, key="simclr", claim="b")
    _record(tmp_path, key="simclr", claim="a")
    assert [(c["key"], c["claim"]) for c in claims.load(tmp_path)] == [
        ("simclr", "b"),
        ("simclr", "a"),
        ("clip", "kNN beats pixels"),
    ]
    assert claims.missing_done(tmp_path) == ["moco"]  # start_here records no claim


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; run the notebooks"):
        claims.load(tmp_path / "absent")
    (tmp_path / "simclr.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable claims record"):
        claims.load(tmp_path)
    (tmp_path / "simclr.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a claims record"):
        claims.load(tmp_path)


def test_report_formats(tmp_path, done):
    done("simclr", "moco")
    _record(tmp_path, key="clip", passed=False, seed=3, quick=True)
    _record(tmp_path, key="simclr", claim="pipe | in text", margin=0.05)

    md = claims.report(tmp_path)
    lines = md.splitlines()
    assert (
        lines[0]
        == "| chapter | key | claim | metrics | baseline | margin | seed | quick | passed |"
    )
    assert lines[2] == "| 01 | simclr | pipe \\| in text | knn=0.8 | knn=0.4 | 0.05 |  |  | yes |"
    assert lines[3].startswith("| 01 | moco | (no record") and lines[3].endswith("| missing |")
    assert lines[4] == "| 01 | clip | kNN beats pixels | knn=0.8 | knn=0.4 |  | 3 | True | **NO** |"
    assert "2 checks: 1 passed, 1 failed; 1 done notebooks without a record" in md

    page = claims.report(tmp_path, fmt="html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr style=") == 3
    assert "pipe | in text" in page and "<td>NO</td>" in page

    data = json.loads(claims.report(tmp_path, fmt="json"))
    assert data["summary"] == {"pass": 1, "fail": 1, "missing": 1}
    assert [r["key"] for r in data["rows"]] == ["simclr", "moco", "clip"]
    assert [r["status"] for r in data["rows"]] == ["pass", "missing", "fail"]

    with pytest.raises(ValueError, match="fmt must be"):
        claims.report(tmp_path, fmt="pdf")


def test_report_reads_environment(tmp_path, monkeypatch, done):
    done()
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    _record(tmp_path)
    assert "| 01 | simclr |" in claims.report()
