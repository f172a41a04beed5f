"""Claims: recording checks atomically, validating input, building the report."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

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
    assert lines[0] == (
        "| chapter | key | claim | mode | held | method | baseline | gap | min gap | margin "
        "| slack | seeds |"
    )
    assert lines[2] == (
        "| 01 | simclr | pipe \\| in text |  | 1/1 | knn 0.8 | knn 0.4 | +0.4 † | +0.4 | 0.05 "
        "|  | ? |"
    )
    assert lines[3].startswith("| 01 | moco | (no record") and "| missing |" in lines[3]
    assert lines[4] == (
        "| 01 | clip | kNN beats pixels | quick | **0/1** | knn 0.8 | knn 0.4 | +0.4 † | +0.4 "
        "|  |  | 3 |"
    )
    assert "2 claims over seeds 3, ?: 1 held on every seed, 1 failed on some seed; 1 done" in md

    per_check = claims.report(tmp_path, checks=True).splitlines()
    assert per_check[0] == (
        "| chapter | key | claim | metrics | baseline | gap | margin | seed | quick | passed |"
    )
    assert (
        per_check[4]
        == "| 01 | clip | kNN beats pixels | knn=0.8 | knn=0.4 |  |  | 3 | True | **NO** |"
    )

    page = claims.report(tmp_path, fmt="html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr style=") == 3
    assert "pipe | in text" in page and "<td>0/1</td>" in page
    assert page.count('<div id="gap-') == 2  # one plot per claim, none for the missing one

    data = json.loads(claims.report(tmp_path, fmt="json"))
    assert data["summary"] == {"pass": 1, "fail": 1, "missing": 1, "claims": 2, "checks": 2}
    assert [r["key"] for r in data["claims"]] == ["simclr", "moco", "clip"]
    assert [r["status"] for r in data["claims"]] == ["pass", "missing", "fail"]

    with pytest.raises(ValueError, match="fmt must be"):
        claims.report(tmp_path, fmt="pdf")


def test_report_reads_environment(tmp_path, monkeypatch, done):
    done()
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    _record(tmp_path)
    assert "| 01 | simclr |" in claims.report()


# -- seeds -----------------------------------------------------------------------------


def test_record_notes_commit_threads_versions(tmp_path):
    torch = pytest.importorskip("torch")
    rec = _record(tmp_path, seed=0)
    assert rec["threads"] == torch.get_num_threads()
    assert set(rec["versions"]) == {"python", "torch", "numpy", "contrastkit"}
    assert rec["versions"]["torch"] == torch.__version__
    assert isinstance(rec["commit"], str)
    if (Path(claims.__file__).parents[1] / ".git").exists():
        assert len(rec["commit"]) == 40


def test_commit_is_empty_without_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    claims._commit.cache_clear()
    monkeypatch.setattr(claims.subprocess, "run", no_git)
    try:
        assert claims._commit() == ""
    finally:
        claims._commit.cache_clear()


def test_claims_imports_and_records_without_torch(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"  # `import torch` now raises ImportError
        "from contrastkit import claims, cli\n"
        "rec = claims.record('simclr', 'c', {'knn': 0.5}, passed=True, seed=1,"
        f" results_dir={str(tmp_path)!r})\n"
        "assert rec['threads'] is None and rec['versions']['torch'] is None, rec\n"
        "assert 'plotly' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "simclr.seed1.json").is_file()


def test_each_seed_has_its_own_file_and_same_seed_replaces(tmp_path):
    for seed in (0, 1, 2):
        _record(tmp_path, seed=seed, metrics={"knn": 0.5 + seed / 10})
    _record(tmp_path, seed=1, metrics={"knn": 0.9})  # a re-run of seed 1 replaces seed 1 only
    _record(tmp_path, seed=1, claim="a second check")
    assert sorted(os.listdir(tmp_path)) == [f"simclr.seed{s}.json" for s in (0, 1, 2)]
    got = [(c["seed"], c["claim"], c["metrics"]["knn"]) for c in claims.load(tmp_path)]
    assert got == [
        (0, "kNN beats pixels", 0.5),
        (1, "kNN beats pixels", 0.9),
        (1, "a second check", 0.8),
        (2, "kNN beats pixels", 0.7),
    ]


def test_seed_accepts_numpy_integers_and_rejects_bools(tmp_path):
    np = pytest.importorskip("numpy")
    assert _record(tmp_path, seed=np.int64(4))["seed"] == 4
    assert _record(tmp_path, seed=(np.int32(0), 1))["seed"] == [0, 1]
    with pytest.raises(TypeError, match="seed must be an int"):
        _record(tmp_path, seed=True)


def test_load_reads_old_single_files_and_keeps_the_newest_duplicate(tmp_path):
    old = claims.record("simclr", "c", {"knn": 0.1}, passed=False, seed=0, quick=True)
    old["timestamp"] = "2000-01-01T00:00:00Z"
    (tmp_path / "simclr.json").write_text(json.dumps({"key": "simclr", "checks": [old]}))
    claims.record(
        "simclr", "c", {"knn": 0.9}, passed=True, seed=0, quick=True, results_dir=tmp_path
    )
    [check] = claims.load(tmp_path)
    assert check["metrics"] == {"knn": 0.9} and check["passed"] is True


def test_summarize_over_five_seeds(tmp_path, done):
    done("simclr")
    gaps = [0.30, 0.25, 0.35, 0.28, 0.32]
    for seed, gap in enumerate(gaps):
        _record(
            tmp_path, seed=seed, quick=True, margin=0.1, metrics={"knn": 0.4 + gap},
            passed=gap >= 0.26,
        )  # fmt: skip
        # an explicit gap, signed so that larger is better (a loss that must drop)
        _record(
            tmp_path, claim="loss drops", seed=seed, quick=True, margin=0.2,
            metrics={"loss": 1.0 - gap}, baseline={"loss": 1.0}, gap=gap,
        )  # fmt: skip
    _record(tmp_path, seed=0, quick=False)  # full mode is a claim of its own
    knn, loss, full = claims.summarize(tmp_path)

    assert (knn["n"], knn["held"], knn["status"], knn["seeds"]) == (5, 4, "fail", list("01234"))
    assert knn["method"]["name"] == "knn" and knn["baseline"]["name"] == "knn"
    assert knn["method"]["mean"] == pytest.approx(0.4 + statistics.fmean(gaps))
    assert knn["method"]["sd"] == pytest.approx(statistics.stdev(gaps))
    assert knn["baseline"]["sd"] == 0
    assert knn["gap"]["derived"] is True and knn["gap"]["min"] == pytest.approx(0.25)
    assert knn["gap"]["values"] == pytest.approx(gaps)
    assert knn["slack"] == pytest.approx((0.25 - 0.1) / statistics.stdev(gaps))
    assert knn["margin"] == 0.1 and knn["commits"] == [claims._commit()]

    assert loss["status"] == "pass" and loss["gap"]["derived"] is False
    assert loss["gap"]["mean"] == pytest.approx(statistics.fmean(gaps))
    assert loss["method"]["mean"] == pytest.approx(1 - statistics.fmean(gaps))
    assert (full["quick"], full["n"], full["gap"]["sd"], full["slack"]) == (False, 1, None, None)

    md = claims.report(tmp_path)
    assert (
        "| 01 | simclr | kNN beats pixels | quick | **4/5** | knn 0.7 ± 0.038 | knn 0.4 ± 0 " in md
    )
    assert "| +0.3 ± 0.038 † | +0.25 | 0.1 | 3.9 sd | 0,1,2,3,4 |" in md
    assert (
        "| loss drops | quick | 5/5 | loss 0.7 ± 0.038 | loss 1 ± 0 | +0.3 ± 0.038 | +0.25 | 0.2 "
        "| 1.3 sd |" in md
    )
    assert (
        "| 01 | simclr | kNN beats pixels | full | 1/1 | knn 0.8 | knn 0.4 | +0.4 † | +0.4 |" in md
    )
    assert (
        "3 claims over seeds 0, 1, 2, 3, 4: 2 held on every seed, 1 failed on some seed; 0 done"
        in md
    )


def test_summarize_margin_that_changed_and_missing_gap(tmp_path, done):
    done("clip")
    claims.record("clip", "c", {"acc": 0.5}, passed=True, seed=0, margin=0.1, results_dir=tmp_path)
    claims.record("clip", "c", {"acc": 0.6}, passed=True, seed=1, margin=0.2, results_dir=tmp_path)
    [row] = claims.summarize(tmp_path)
    assert row["gap"] is None and row["margins"] == [0.1, 0.2] and row["margin"] == 0.2
    md = claims.report(tmp_path)
    assert "| 01 | clip | c |  | 2/2 | acc 0.55 ± 0.071 |  |  |  | 0.1–0.2 |  | 0,1 |" in md
    page = claims.report(tmp_path, fmt="html")
    assert "no gap: the checks record neither a gap nor a baseline" in page


def test_html_embeds_plotly_and_plots_the_gaps(tmp_path, done):
    done("simclr")
    for seed in (0, 1):
        _record(tmp_path, seed=seed, margin=0.3, passed=seed == 1, gap=0.2 + seed / 5)
    page = claims.report(tmp_path, fmt="html")
    assert "<script src=" not in page  # nothing fetched from a CDN: works offline
    assert page.count("plotly.js v") >= 1 and len(page) > 1_000_000  # plotly.js inlined once
    assert page.count("Plotly.newPlot") == 1
    figure = page[page.index('<div id="gap-0"') :]
    assert '"y":[0.2,0.4]' in figure.replace(" ", "") and "margin 0.3" in figure
    assert '"x":["0","1"]' in figure.replace(" ", "")
    assert "<details><summary>each seed</summary>" in page


# -- the README's claims table (tools/readme.py) ---------------------------------------


def _readme_module():
    spec = importlib.util.spec_from_file_location(
        "_readme_tool", Path(__file__).resolve().parents[1] / "tools" / "readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_claims_table_from_a_five_seed_run(tmp_path, done):
    readme = _readme_module()
    done("simclr", "moco")
    for seed in range(5):
        _record(tmp_path, seed=seed, quick=True, margin=0.1, metrics={"knn": 0.5 + seed / 100})
        _record(tmp_path, claim="fails | once", seed=seed, quick=True, gap=0.1, passed=seed != 2)
    table = readme.claims_table(tmp_path)
    assert table.startswith("Seeds 0, 1, 2, 3, 4, quick mode")
    assert ": 1 of 2 checks held on every seed." in table
    simclr = catalog.get("simclr")
    link = f'[`simclr`]({simclr.notebook} "{simclr.title}")'
    assert f"| {link} | kNN beats pixels | 5/5 | +0.12 ± 0.016 † | 0.1 |" in table
    assert f"| {link} | fails \\| once | **4/5** | +0.1 ± 0 |  |" in table
    assert table.endswith("No record in this run: `moco`.\n")

    text = (
        "# t\n<!-- notebooks:start -->\nold list\n<!-- notebooks:end -->\n## Which claims\n"
        "<!-- claims:start -->\n| hand | written |\n<!-- claims:end -->\nafter\n"
    )
    kept = readme.render(text)  # without a results folder the claims block is left alone
    assert "| hand | written |" in kept and "old list" not in kept
    new = readme.render(text, tmp_path)
    assert "| hand | written |" not in new and new.endswith(f"{table}<!-- claims:end -->\nafter\n")
    assert readme.render(new, tmp_path) == new

    with pytest.raises(ValueError, match="no <!-- claims:start --> ... <!-- claims:end --> block"):
        readme.render(text.replace("<!-- claims:end -->", ""), tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no claim records"):
        readme.claims_table(empty)
    assert readme.main(["--claims", str(tmp_path / "absent")]) == 2
