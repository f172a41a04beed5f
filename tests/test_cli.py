"""The `contrastkit` command: listing, reporting, usage errors, running notebooks."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import pytest

import contrastkit.cli.train
from contrastkit import catalog, claims, cli

REPO = Path(__file__).parents[1]
PARAMETERS = "QUICK = False\nSEED = 0\nRESULTS_DIR = None"


@pytest.fixture(autouse=True)
def _no_results_env(monkeypatch):
    monkeypatch.delenv(claims.RESULTS_ENV, raising=False)


@pytest.fixture
def done(monkeypatch):
    def set_done(*keys: str) -> None:
        entries = tuple(
            dataclasses.replace(e, status="done" if e.key in keys else "planned")
            for e in catalog.ENTRIES
        )
        monkeypatch.setattr(catalog, "ENTRIES", entries)

    return set_done


def write_notebook(path: Path, *sources: str) -> Path:
    """Write a notebook: a `parameters`-tagged cell, then one code cell per source."""
    nbformat = pytest.importorskip("nbformat")
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, *map(nbformat.v4.new_code_cell, sources)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# -- list ------------------------------------------------------------------------------


def test_list_json_has_every_key(capsys):
    assert cli.main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == catalog.keys()
    assert rows[1]["notebook"] == "notebooks/01_foundations/01_simclr.ipynb"


def test_list_text_and_filters(capsys, done):
    done("simclr")
    assert cli.main(["list", "--chapter", "01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("01 Foundations\n") and "  01 simclr " in out
    assert "11 notebooks, 1 done" in out
    assert cli.main(["list", "--status", "done", "--json"]) == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == ["simclr"]
    assert cli.main(["list", "--chapter", "9", "--json"]) == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == ["gcool", "circuitgcl", "kcl"]


# -- report ----------------------------------------------------------------------------


def test_report_on_a_results_dir(tmp_path, capsys, done):
    done("simclr", "moco")
    claims.record("simclr", "kNN beats pixels", {"knn": 0.8}, passed=True, results_dir=tmp_path)
    capsys.readouterr()

    assert cli.main(["report", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 01 | simclr | kNN beats pixels |  | 1/1 | knn 0.8 |" in out and "| missing |" in out

    assert cli.main(["report", "--results-dir", str(tmp_path), "--checks"]) == 0
    assert "| 01 | simclr | kNN beats pixels | knn=0.8 |" in capsys.readouterr().out

    html_file = tmp_path / "report.html"
    assert cli.main(["report", "--results-dir", str(tmp_path), "--html", str(html_file)]) == 0
    assert "<table>" in html_file.read_text()
    assert f"wrote {html_file}" in capsys.readouterr().err

    assert cli.main(["report", "--results-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["missing"] == 1


def test_report_require_done(tmp_path, capsys, done):
    done("simclr", "moco")
    args = ["report", "--results-dir", str(tmp_path), "--require-done"]
    claims.record("simclr", "kNN beats pixels", {"knn": 0.8}, passed=True, results_dir=tmp_path)
    assert cli.main(args) == 1
    assert "done notebooks without a record: moco" in capsys.readouterr().err

    claims.record("moco", "queue helps", {"knn": 0.5}, passed=False, results_dir=tmp_path)
    assert cli.main(args) == 1
    assert "failed checks: moco (queue helps; seed ?)" in capsys.readouterr().err

    claims.record("moco", "queue helps", {"knn": 0.9}, passed=True, results_dir=tmp_path)
    assert cli.main(args) == 0

    # Across seeds: a check failed on any one seed fails the report.
    for seed, passed in ((0, True), (1, False), (2, True)):
        claims.record("moco", "queue helps", {"knn": 0.5}, passed=passed, seed=seed,
                      results_dir=tmp_path)  # fmt: skip
    assert cli.main(args) == 1
    assert capsys.readouterr().err.endswith("failed checks: moco (queue helps; seed 1)\n")


# -- usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["list", "--chapter", "11"], "expected a chapter number 1..10"),
        (["list", "--status", "maybe"], "invalid choice: 'maybe'"),
        (["notebooks", "--jobs", "0"], "expected a positive integer"),
        (["notebooks", "--quick", "--full"], "not allowed with argument"),
        (["notebooks", "--seed", "1", "--seeds", "2", "3"], "not allowed with argument"),
        (["notebooks", "--seeds"], "expected at least one argument"),
        (["notebooks", "--seeds", "0", "x"], "invalid int value: 'x'"),
        (["notebooks", "--seeds", "0", "1", "0"], "--seeds: each seed once, got 0 1 0"),
        (["notebooks", "--only", "simclear"], "unknown catalog key 'simclear'; did you mean"),
        (["report", "--results-dir", "/nonexistent/claims"], "does not exist"),
        (["train", "simclr", "--data", "digits", "--steps", "5", "--epochs", "1"], "not allowed"),
        (["train", "simclr"], "required: --data"),
        (["bench", "simclr", "--data", "shapes", "--encoder", "vit"], "invalid choice: 'vit'"),
        (["bench", "simclr", "--data", "shapes"], "required: --encoder"),
    ],
)
def test_bad_arguments_exit_2_with_message(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith(("usage:", "contrastkit: error:"))


def test_train_and_bench_dispatch_lazily(monkeypatch, capsys):
    seen = {}

    def cli_train(args):
        seen["train"] = args
        return 0

    def cli_bench(args):
        raise ValueError("unknown dataset 'nope'; expected one of: digits, shapes")

    monkeypatch.setattr(contrastkit.cli.train, "cli_train", cli_train)
    bench = types.ModuleType("contrastkit.bench")
    bench.cli_bench = cli_bench
    monkeypatch.setitem(sys.modules, "contrastkit.bench", bench)

    argv = ["train", "moco", "--data", "digits", "--steps", "10", "--lr", "0.1", "--resume"]
    assert cli.main(argv) == 0
    args = seen["train"]
    assert (args.method, args.data, args.steps, args.epochs, args.lr) == (
        "moco",
        "digits",
        10,
        None,
        0.1,
    )
    assert args.resume and args.batch_size is None

    argv = ["bench", "simclr", "--data", "nope", "--encoder", "smallconv", "--image-size", "32"]
    argv += ["--batch-size", "64", "--seconds", "1"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "contrastkit: error: unknown dataset 'nope'; expected one of: digits, shapes\n"
    )


# -- notebooks -------------------------------------------------------------------------

WRITE_PARAMS = (
    'from pathlib import Path\nPath(RESULTS_DIR, "params.txt").write_text(f"{QUICK} {SEED}")'
)


def test_run_notebooks_injects_parameters(tmp_path):
    pytest.importorskip("papermill")
    nb = write_notebook(tmp_path / "nbs" / "tiny.ipynb", WRITE_PARAMS)
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    seen = []
    [result] = cli.run_notebooks(
        [nb],
        tmp_path / "out",
        {"QUICK": True, "SEED": 7, "RESULTS_DIR": str(results_dir)},
        jobs=1,
        timeout=60,
        on_done=seen.append,
    )
    assert result.status == "ok" and result.error == "" and seen == [result]
    assert (results_dir / "params.txt").read_text() == "True 7"
    assert Path(result.output) == tmp_path / "out" / "tiny.ipynb"
    assert "injected-parameters" in Path(result.output).read_text()


@pytest.mark.slow
def test_run_notebooks_reports_failing_cell_and_runs_in_parallel(tmp_path):
    pytest.importorskip("papermill")
    good = write_notebook(tmp_path / "a" / "good.ipynb", WRITE_PARAMS)
    bad = write_notebook(tmp_path / "b" / "bad.ipynb", "x = 1", "assert x == 2, 'x is not 2'")
    params = {"QUICK": True, "SEED": 1, "RESULTS_DIR": str(tmp_path)}
    results = cli.run_notebooks([bad, good], tmp_path / "out", params, jobs=2, timeout=60)
    assert [r.status for r in results] == ["failed", "ok"]
    assert results[0].error == "In [4]: AssertionError: x is not 2"  # [1] is injected
    assert Path(results[0].output) == tmp_path / "out" / "b" / "bad.ipynb"
    assert (tmp_path / "params.txt").read_text() == "True 1"


@pytest.mark.slow
def test_run_notebooks_cell_timeout(tmp_path):
    pytest.importorskip("papermill")
    nb = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    [result] = cli.run_notebooks([nb], tmp_path / "out", {}, timeout=1)
    assert result.status == "failed" and result.seconds < 30
    assert result.error.startswith("CellTimeoutError: A cell timed out")


def test_run_notebooks_checks_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        cli.run_notebooks([tmp_path / "absent.ipynb"], tmp_path, {})
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        cli.run_notebooks([], tmp_path, {}, jobs=0)
    with pytest.raises(ValueError, match="seeds must be distinct"):
        cli.run_notebooks([], tmp_path, {}, seeds=[1, 1])
    with pytest.raises(ValueError, match="seeds must be distinct and at least one"):
        cli.run_notebooks([], tmp_path, {}, seeds=[])


def test_run_notebooks_runs_each_seed_into_its_folder(tmp_path, monkeypatch):
    calls = []

    def fake_run_one(path, output, parameters, timeout):
        calls.append((path.name, output, parameters))
        return cli.Result(str(path), str(output), "ok", 0.0, "", parameters.get("SEED"))

    monkeypatch.setattr(cli, "_run_one", fake_run_one)
    a = write_notebook(tmp_path / "nbs" / "01_x" / "a.ipynb")
    b = write_notebook(tmp_path / "nbs" / "02_y" / "b.ipynb")
    out = tmp_path / "out"
    params = {"QUICK": True, "SEED": 9, "RESULTS_DIR": "/r"}
    results = cli.run_notebooks([a, b], out, params, seeds=[3, 0], relative_to=tmp_path / "nbs")
    assert [(r.seed, Path(r.output)) for r in results] == [
        (3, out / "seed3/01_x/a.ipynb"),
        (0, out / "seed0/01_x/a.ipynb"),
        (3, out / "seed3/02_y/b.ipynb"),
        (0, out / "seed0/02_y/b.ipynb"),
    ]
    assert [c[2] for c in calls[:2]] == [{**params, "SEED": 3}, {**params, "SEED": 0}]
    assert params["SEED"] == 9  # the caller's dict is left alone

    calls.clear()  # one seed: today's layout, no seed folder
    [result] = cli.run_notebooks([a], out, params, seeds=[5], relative_to=tmp_path / "nbs")
    assert Path(result.output) == out / "01_x/a.ipynb" and calls[0][2]["SEED"] == 5


@pytest.mark.slow
def test_notebooks_command_end_to_end(tmp_path, monkeypatch, capsys, done):
    pytest.importorskip("papermill")
    done("simclr")
    monkeypatch.chdir(tmp_path)  # a checkout with one notebook written
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    record = (
        "from contrastkit import claims\n"
        "claims.record('simclr', 'seed arrives', {'value': 1.0 + SEED}, {'base': 1.0},"
        " margin=1.5, passed=QUICK, quick=QUICK, seed=SEED, results_dir=RESULTS_DIR)"
    )
    write_notebook(tmp_path / catalog.get("simclr").notebook, record)

    assert cli.main(["notebooks", "--only", "moco"]) == 2
    assert "notebook not written yet: moco" in capsys.readouterr().err

    # Two seeds, in parallel: one executed copy per seed, one record per seed.
    argv = ["notebooks", "--chapter", "1", "--seeds", "3", "4", "--jobs", "2", "--timeout", "120"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "skipped (not written yet): 10 notebooks: start_here, align_uniform" in out
    assert "running 1 notebooks x 2 seeds (quick mode, seeds 3 4, 2 at once)" in out
    assert "[2/2] ok" in out and "01_foundations/01_simclr.ipynb (seed 4)" in out
    assert (
        "| 01 | simclr | seed arrives | quick | 2/2 | value 4.5 ± 0.71 | base 1 ± 0 "
        "| +3.5 ± 0.71 † | +3 | 1.5 | 2.1 sd | 3,4 |"
    ) in out
    for seed in (3, 4):
        assert (tmp_path / f"results/notebooks/seed{seed}/01_foundations/01_simclr.ipynb").is_file()
    checks = claims.load(tmp_path / "results/claims")
    assert [(c["seed"], c["quick"]) for c in checks] == [(3, True), (4, True)]
    assert all(c["threads"] >= 1 and c["versions"]["torch"] for c in checks)

    # One seed keeps today's layout and adds to the other seeds' records. A failed check is
    # reported; only a failing notebook (its assert) fails the command.
    assert cli.main(["notebooks", "--only", "simclr", "--full"]) == 0
    out = capsys.readouterr().out
    assert "running 1 notebooks (full mode, seed 0, 1 at once)" in out
    assert "| 01 | simclr | seed arrives | full | **0/1** | value 1 | base 1 | +0 † |" in out
    assert "| 01 | simclr | seed arrives | quick | 2/2 |" in out
    assert (tmp_path / "results/notebooks/01_foundations/01_simclr.ipynb").is_file()
    assert sorted(p.name for p in (tmp_path / "results/claims").iterdir()) == [
        f"simclr.seed{seed}.json" for seed in (0, 3, 4)
    ]
    html_file = tmp_path / "claims.html"
    assert cli.main(["report", "--html", str(html_file), "--require-done"]) == 1
    assert "failed checks: simclr (seed arrives; seed 0)" in capsys.readouterr().err
    assert html_file.read_text().count('<div id="gap-') == 2
