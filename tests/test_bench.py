"""`contrastkit bench`: the three pipelines run and report; speed is not asserted (benchmarks/)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from contrastkit import bench, cli
from contrastkit.augment import PRESETS, AugmentConfig

TINY = dict(data="shapes", encoder="smallconv", image_size=16, batch_size=8, n_images=32)


@pytest.fixture(scope="module")
def result():
    return bench.bench("simclr", seconds=0.05, warmup=1, repeats=2, workers=1, **TINY)


def test_every_pipeline_reports_throughput_and_memory(result):
    for name in bench.PIPELINES:
        r = result[name]
        assert r["images_per_second"] > 0 and r["min"] <= r["images_per_second"] <= r["max"]
        assert r["images_per_cpu_second"] > 0
        assert len(r["runs"]) == 2 and all(run["steps"] >= 1 for run in r["runs"])
        assert r["memory"]["peak_bytes"] > 0 and r["memory"]["growth_bytes"] >= 0
        assert all(torch.isfinite(torch.tensor(run["last_loss"])) for run in r["runs"])
    ck, ref, bare = (result[p]["images_per_second"] for p in bench.PIPELINES)
    assert result["ratio"] == pytest.approx(ck / ref)
    assert result["ceiling_fraction"] == pytest.approx(ck / bare)
    assert len(result["ratio_per_repeat"]) == 2
    assert result["cpu_ratio"] > 0 and result["cpu_ceiling_fraction"] > 0
    assert result["reference"]["runs"][0]["workers"] == 1
    assert result["config"]["device"] == "cpu" and result["config"]["autocast"] is None
    assert "contrastkit / reference" in bench.format_result(result)


def test_cli_json(capsys):
    argv = [
        "bench",
        "simclr",
        "--data",
        "shapes",
        "--encoder",
        "smallconv",
        "--image-size",
        "16",
        "--batch-size",
        "8",
        "--seconds",
        "0.05",
        "--workers",
        "0",
        "--json",
    ]
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"contrastkit", "reference", "bare", "ratio", "ceiling_fraction"} <= set(out)
    assert out["config"]["workers"] == 0 and out["config"]["batch_size"] == 8


def test_cli_bad_input_exits_2(capsys):
    base = [
        "bench",
        "nosuch",
        "--data",
        "shapes",
        "--encoder",
        "smallconv",
        "--image-size",
        "16",
        "--batch-size",
        "8",
        "--seconds",
        "0.05",
    ]
    assert cli.main(base) == 2
    assert "unknown method 'nosuch'" in capsys.readouterr().err
    base[1] = "simclr"
    assert cli.main([*base, "--workers", "-1"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_one_pipeline_only_and_bad_names():
    out = bench.bench("simclr", seconds=0.01, warmup=1, pipelines=["bare"], **TINY)
    assert "contrastkit" not in out and out["ratio"] is None and out["ceiling_fraction"] is None
    with pytest.raises(ValueError, match="unknown pipeline"):
        bench.bench("simclr", pipelines=["fast"], **TINY)
    with pytest.raises(ValueError, match="larger than the data"):
        bench.bench("simclr", seconds=0.01, **{**TINY, "batch_size": 64})


def test_reference_transform_follows_the_config():
    names = [type(t).__name__ for t in bench.reference_transform("simclr", 16).transforms]
    assert names == [
        "RandomResizedCrop",
        "RandomHorizontalFlip",
        "RandomApply",
        "RandomGrayscale",
        "ToTensor",
    ]
    strong = [type(t).__name__ for t in bench.reference_transform("strong", 16).transforms]
    assert strong.count("RandomApply") == 2  # jitter and blur
    crop = bench.reference_transform(AugmentConfig(crop_scale=(0.5, 1.0)), 16).transforms[0]
    assert crop.scale == (0.5, 1.0) and crop.size == (16, 16)
    assert PRESETS["none"] is not None
    names = [type(t).__name__ for t in bench.reference_transform("none", 16).transforms]
    assert names == ["ToTensor"]


def test_given_views_needs_a_views_based_method():
    class Plain(nn.Module):
        def loss(self, batch):
            return batch.sum()

    with pytest.raises(ValueError, match="views"), bench._given_views(Plain(), lambda n: []):
        pass
