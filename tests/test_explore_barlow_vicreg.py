"""The barlow_vicreg notebook's explorer: indicators, the views' correlation, the grid states."""

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.explore import barlow_vicreg as xbv
from contrastkit.methods.barlow_vicreg import BarlowVICReg


@pytest.fixture
def grid():
    return {
        "seeds": [0, 1],
        "raw_knn": [0.25, 0.27],
        "barlow": {
            0.1: {"knn": [0.3, 0.32], "std": [0.5, 0.5], "erank": [30.0, 32.0]},
            0.0: {"knn": [0.2, 0.22], "std": [1.2, 1.2], "erank": [5.0, 7.0]},
        },
        "vicreg": {
            "all three terms": {"knn": [0.4, 0.42], "std": [0.5, 0.5], "erank": [24.0, 26.0]},
            "no variance": {"knn": [0.1, 0.12], "std": [0.006, 0.008], "erank": [70.0, 72.0]},
        },
    }


def test_lambda_state_orders_lambdas_and_summarises_over_seeds(grid):
    s = xbv.lambda_state(0.1, grid)
    assert s["settings"] == [0.0, 0.1] and s["index"] == 1
    assert s["mean"]["erank"] == [6.0, 31.0]
    assert s["sd"]["erank"] == pytest.approx([math.sqrt(2), math.sqrt(2)])
    assert s["chosen"]["knn"] == pytest.approx(0.31)
    assert s["raw_knn"] == pytest.approx(0.26) and s["n_seeds"] == 2
    assert xbv.lambda_state(0, grid)["index"] == 0  # an int lambda finds the float key


def test_vicreg_state_and_errors(grid):
    s = xbv.vicreg_state("no variance", grid)
    assert s["settings"] == ["all three terms", "no variance"] and s["index"] == 1
    assert s["chosen"]["std"] == pytest.approx(0.007)
    with pytest.raises(KeyError, match="not in the grid"):
        xbv.lambda_state(0.5, grid)
    with pytest.raises(KeyError, match="unknown setting"):
        xbv.vicreg_state("no invariance", grid)


def test_mean_sd():
    assert xbv.mean_sd([1.0]) == (1.0, 0.0)
    assert xbv.mean_sd([1.0, 3.0]) == pytest.approx((2.0, math.sqrt(2)))
    with pytest.raises(ValueError, match="empty"):
        xbv.mean_sd([])


def test_draw_highlights_the_chosen_settings(grid):
    barlow, vicreg, html = xbv.draw(0.0, "all three terms", grid)
    bars = [t for t in barlow.data if t.type == "bar"]
    assert len(bars) == 3  # kNN, std, effective rank
    assert list(bars[0].x) == ["0", "0.1"]
    assert list(bars[0].marker.color) == ["#d62728", "#7f7f7f"]
    vbars = [t for t in vicreg.data if t.type == "bar"]
    assert list(vbars[2].y) == [25.0, 71.0]
    assert list(vbars[0].marker.color)[0] == "#d62728"
    assert "precomputed" in barlow.layout.title.text
    assert "lambda = 0" in html and "all three terms" in html


def test_the_shipped_grid_is_complete_and_shows_the_claims():
    g = xbv.GRID
    n = len(g["seeds"])
    assert len(g["raw_knn"]) == n
    assert set(g["vicreg"]) == set(xbv.VICREG_SETTINGS)
    assert 0.0 in g["barlow"] and any(math.isclose(k, 1 / 128) for k in g["barlow"])
    for part in ("barlow", "vicreg"):
        for runs in g[part].values():
            assert set(runs) == {"knn", "std", "erank"}
            assert all(len(v) == n for v in runs.values())
    # what the notebook's explorer text says the grid shows
    vic = {k: xbv.mean_sd(v["std"])[0] for k, v in g["vicreg"].items()}
    assert vic["no variance"] < 0.1 * vic["all three terms"]
    ranks = [xbv.mean_sd(g["barlow"][k]["erank"])[0] for k in sorted(g["barlow"])]
    assert ranks[0] < ranks[-1]
    xbv.draw(0.0, "no variance")  # draws with the default grid


def test_indicators_and_view_correlation_in_eval_mode():
    torch.manual_seed(0)
    model = BarlowVICReg(ck.models.SmallConvNet(widths=(4, 8)), proj_dim=6, augment="shapes")
    x = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    model.train()
    out = xbv.indicators(model, x)
    assert all(m.training for m in model.modules())
    with torch.no_grad(), ck.eval_mode(model):
        z = model.project(x)
    assert out["std"] == pytest.approx(float(z.std(0).mean()))
    assert out["erank"] == pytest.approx(ck.metrics.effective_rank(z))
    state = torch.random.get_rng_state()
    c = xbv.view_correlation(model, x, n_dims=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global randomness untouched
    assert c.shape == (4, 4) and np.all(np.abs(c) <= 1 + 1e-5)
    np.testing.assert_allclose(c, xbv.view_correlation(model, x, n_dims=4, seed=3))
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="n_dims"):
        xbv.view_correlation(model, x, n_dims=0)


def test_correlation_figure():
    fig = xbv.correlation_figure({"a": np.eye(3), "b": np.zeros((3, 3))}, title="t")
    assert len(fig.data) == 2 and fig.data[0].zmin == -1 and fig.data[1].showscale
    with pytest.raises(ValueError, match="at least one"):
        xbv.correlation_figure({})
