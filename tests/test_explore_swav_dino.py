"""The swav_dino notebook's explorer: indicators on a model, the grid runner, the knob's state
(verdicts for each kind of collapse) and its figures, and the precomputed grid's shape."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.explore import swav_dino as explore
from contrastkit.methods.swav_dino import SwAVDINO


def _run(entropy, marginal):
    return {"step": [0, 10], "entropy": [1.0, entropy], "marginal_entropy": [2.0, marginal],
            "information": [1.0, marginal - entropy], "rank": [3.0, 1.0], "knn": 0.3}  # fmt: skip


def _grid():
    log_k = math.log(8)
    runs = {
        "0|0.04": _run(0.0, 0.0),  # one prototype for everything
        "0|0.1": _run(0.8, 1.2),  # a few prototypes, unsure
        "1|0.04": _run(0.5, log_k),  # healthy
        "1|0.1": _run(log_k, log_k),  # uniform
    }
    return {
        "centrings": [0.0, 1.0],
        "teacher_temperatures": [0.04, 0.1],
        "log_k": log_k,
        "runs": runs,
    }


def test_grid_state_names_each_collapse_and_fills_the_heat_map():
    g = _grid()
    assert explore.grid_state(g, 1.0, 0.04)["verdict"] == "healthy"
    assert explore.grid_state(g, 1.0, 0.1)["verdict"] == "collapsed to uniform"
    assert explore.grid_state(g, 0.0, 0.04)["verdict"] == "collapsed to one prototype"
    s = explore.grid_state(g, 0.0, 0.1)
    assert s["verdict"] == "collapsed to a few prototypes"
    assert len(s["heat"]) == 2 and len(s["heat"][0]) == 2
    assert s["heat"][1][0] == pytest.approx(math.log(8) - 0.5)  # centring 1, t_t 0.04
    with pytest.raises(KeyError, match="centring=0.5"):
        explore.grid_state(g, 0.5, 0.04)


def test_draw_returns_two_figures_for_every_cell():
    g = _grid()
    for c in g["centrings"]:
        for t in g["teacher_temperatures"]:
            curves, heat = explore.draw(c, t, grid=g)
            assert len(curves.data) == 5 and "centring" in curves.layout.title.text
            assert heat.data[0].z is not None


def test_indicators_on_a_model_and_a_tiny_grid():
    torch.manual_seed(0)
    m = SwAVDINO(ck.models.SmallConvNet(widths=(8, 16)), variant="dino", n_prototypes=8)
    out = explore.indicators(m, torch.rand(16, 3, 16, 16))
    assert set(out) == set(explore.INDICATORS)
    assert 0 <= out["entropy"] <= math.log(8) + 1e-9 and 1 <= out["rank"] <= 8 + 1e-6
    data = ck.make_shapes(48, image_size=16, seed=0)
    train, test = data.split(16, seed=0)
    g = explore.dino_grid(train, test, centrings=(0.0,), teacher_temperatures=(0.04, 0.1),
                          steps=2, batch_size=16, n_prototypes=8, n_local=0)  # fmt: skip
    assert set(g["runs"]) == {"0|0.04", "0|0.1"} and g["log_k"] == pytest.approx(math.log(8))
    run = g["runs"]["0|0.1"]
    assert run["step"][0] == 0 and len(run["step"]) == len(run["information"])
    explore.draw(0.0, 0.1, grid=g)


def test_the_precomputed_grid_covers_its_axes():
    g = explore.PRECOMPUTED
    assert g["centrings"] and g["teacher_temperatures"]
    for c in g["centrings"]:
        for t in g["teacher_temperatures"]:
            run = explore.grid_state(g, c, t)["run"]
            assert len(run["step"]) == len(run["entropy"]) == len(run["rank"])
