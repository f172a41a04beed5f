"""`contrastkit train`: trains, checkpoints, resumes, reports kNN; clear errors on bad input."""

from __future__ import annotations

import json

import pytest
import torch

from contrastkit import cli
from contrastkit.cli.train import trainable_methods

TINY = ["--n-train", "300", "--image-size", "16", "--batch-size", "32", "--device", "cpu"]


def train(*extra: str) -> int:
    return cli.main(["train", "simclr", "--data", "shapes", *TINY, *extra])


def test_train_writes_checkpoint_and_metrics(tmp_path, capsys):
    assert train("--steps", "3", "--out", str(tmp_path), "--seed", "1") == 0
    out = capsys.readouterr().out
    assert "kNN accuracy (k=20, 1,000 held-out images)" in out and "raw pixels" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["seed"] == 1 and metrics["n_train"] == 300
    assert metrics["n_test"] == 1000 and metrics["image_size"] == 16
    assert metrics["augment"] == "shapes"  # colour is a nuisance there: the shapes preset
    for key in ("knn", "knn_raw_pixels"):
        assert 0.0 <= metrics[key] <= 1.0
    for key in ("alignment", "uniformity", "final_loss"):
        assert isinstance(metrics[key], float)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.json"]


def test_resume_continues_and_refuses_to_overwrite(tmp_path, capsys):
    assert train("--steps", "2", "--out", str(tmp_path)) == 0
    first = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    # without --resume an existing run is not silently overwritten
    assert train("--steps", "4", "--out", str(tmp_path)) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert train("--steps", "4", "--out", str(tmp_path), "--resume") == 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4
    assert state["history"]["step"][0] == first["history"]["step"][0] == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 4


def test_temperature_and_epochs_reach_the_run(tmp_path):
    assert train("--epochs", "1", "--temperature", "0.2", "--out", str(tmp_path)) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["temperature"] == 0.2
    assert metrics["steps"] == round(300 / 32)  # one pass over the data


def test_default_out_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train("--steps", "1", "--seed", "4") == 0
    assert (tmp_path / "runs" / "simclr-shapes-seed4" / "metrics.json").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nosuchmethod", "--data", "shapes"], "unknown method 'nosuchmethod'"),
        (["train", "simclr", "--data", "nosuchdata"], "unknown dataset 'nosuchdata'"),
        (["train", "clip", "--data", "shapes"], "contrastkit notebooks --only clip"),
        (
            ["train", "simclr", "--data", "shapes", "--n-train", "10", "--batch-size", "64"],
            "batch_size",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, tmp_path, capsys):
    assert cli.main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("contrastkit: error:") and message in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("method", trainable_methods())
def test_every_cli_method_trains_a_step(method, tmp_path):
    assert (
        cli.main(
            ["train", method, "--data", "shapes", *TINY, "--steps", "1", "--out", str(tmp_path)]
        )
        == 0
    )
