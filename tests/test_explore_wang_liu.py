"""The wang_liu notebook: the explorer's pure update and view, the sweep, the paper's table."""

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.explore import wang_liu as xwl


@pytest.fixture
def sims():
    g = np.random.default_rng(0)
    return np.tanh(g.normal(size=200))  # cosines in (-1, 1)


# ---------------------------------------------------------------------- explorer_state


def test_explorer_weights_sum_to_one(sims):
    for tau in (0.01, 0.1, 1.0, 10.0):
        for keep in (1.0, 0.3, 0.05):
            s = xwl.explorer_state(sims, tau, keep)
            assert s["weight"].sum() == pytest.approx(1.0, abs=1e-12)
            assert s["weight_hard"].sum() == pytest.approx(1.0, abs=1e-12)
            assert (s["weight"] >= 0).all() and np.isfinite(s["weight"]).all()


def test_explorer_matches_library_weights(sims):
    # the closed form is the library's negative_weights, up to the sort
    z = torch.randn(41, 8, dtype=torch.float64)
    anchor, negs = z[0], z[1:]
    cos = torch.nn.functional.normalize(negs, dim=1) @ torch.nn.functional.normalize(anchor, dim=0)
    s = xwl.explorer_state(cos.numpy(), 0.2)
    ref = ck.metrics.negative_weights(anchor, negs, 0.2).numpy()
    np.testing.assert_allclose(s["weight"], np.sort(ref)[::-1], rtol=1e-9)
    assert s["n_eff"] == pytest.approx(float(ck.metrics.effective_negatives(torch.tensor(ref))))


def test_explorer_effective_negatives_monotone_in_tau(sims):
    n_eff = [xwl.explorer_state(sims, tau)["n_eff"] for tau in np.logspace(-2, 1, 30)]
    assert all(b > a for a, b in zip(n_eff, n_eff[1:], strict=False))
    curve = xwl.explorer_state(sims, 0.5, 0.2)["n_eff_hard_curve"]
    assert (np.diff(curve) > 0).all()
    s = xwl.explorer_state(sims, 0.5)
    assert (np.diff(s["n_eff_curve"]) > 0).all()


def test_explorer_limits(sims):
    cold = xwl.explorer_state(sims, 1e-4)
    hot = xwl.explorer_state(sims, 1e4)
    assert cold["n_eff"] == pytest.approx(1.0, abs=1e-6)  # only the hardest negative
    assert cold["weight"][0] == pytest.approx(1.0)  # sorted: index 0 is the hardest
    assert hot["n_eff"] == pytest.approx(len(sims), rel=1e-3)  # all equal: the simple loss
    np.testing.assert_allclose(hot["weight"], 1 / len(sims), rtol=1e-3)


def test_explorer_keep_fraction_respected(sims):
    for keep, expected in ((1.0, 200), (0.1, 20), (0.051, 10), (1e-6, 1)):
        s = xwl.explorer_state(sims, 0.5, keep)
        assert s["n_kept"] == expected == int(s["kept"].sum())
        assert (s["weight_hard"][~s["kept"]] == 0).all()
        assert (s["weight_hard"][s["kept"]] > 0).all()
        # the kept ones are the hardest: every kept similarity >= every dropped one
        if expected < len(sims):
            assert s["similarity"][s["kept"]].min() >= s["similarity"][~s["kept"]].max()
        assert s["n_eff_hard"] <= expected + 1e-9
        assert s["n_eff_hard"] <= s["n_eff"] + 1e-9


def test_explorer_is_stable_and_validates(sims):
    s = xwl.explorer_state(sims, 1e-3)  # sims / tau = 1000: must not overflow
    assert np.isfinite(s["weight"]).all() and np.isfinite(s["n_eff_curve"]).all()
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="tau"):
            xwl.explorer_state(sims, bad)
    with pytest.raises(ValueError, match="keep_fraction"):
        xwl.explorer_state(sims, 0.5, 0.0)
    with pytest.raises(ValueError, match="sims"):
        xwl.explorer_state(np.ones((3, 3)), 0.5)


def test_explorer_nearest_run_and_figure(sims):
    sweep = [
        {"loss": "contrastive", "temperature": t, "uniformity": 3 - t, "tolerance": t, "knn": 0.9}
        for t in (0.1, 0.3, 1.0)
    ] + [{"loss": "hard", "temperature": 1.0, "uniformity": 3.3, "tolerance": 0.3, "knn": 0.9}]
    s = xwl.explorer_state(sims, 0.25, 0.1, sweep=sweep)
    assert s["nearest"] == 1 and s["nearest_hard"] == 3
    assert xwl.explorer_state(sims, 0.12, sweep=sweep)["nearest"] == 0
    fig = xwl.explorer_figure(s, sweep)
    assert fig.layout.title.text == xwl.EXPLORER_TITLE
    xwl.update_explorer(fig, xwl.explorer_state(sims, 2.0, 0.5, sweep=sweep), sweep)
    assert len(fig.data[1].x) == 100
    assert "tau = 2" in xwl.explorer_readout(xwl.explorer_state(sims, 2.0, sweep=sweep), sweep)


def test_effective_negatives_vs_tau_monotone():
    z = torch.randn(60, 8)
    n = xwl.effective_negatives_vs_tau(z, [0.05, 0.2, 1.0], n_anchors=10)
    assert n.shape == (3, 10)
    assert (np.diff(n, axis=0) > 0).all()
    hard = xwl.effective_negatives_vs_tau(z, [0.05, 0.2, 1.0], n_anchors=10, keep_fraction=0.1)
    assert (hard <= 5 + 1e-4).all()  # 10% of 50 negatives


def test_draw_is_the_readout_and_the_figure(sims):
    sweep = [
        {
            "loss": "contrastive",
            "temperature": 0.1,
            "uniformity": 3.0,
            "tolerance": 0.2,
            "knn": 0.9,
        },
        {"loss": "hard", "temperature": 1.0, "uniformity": 3.2, "tolerance": 0.1, "knn": 0.8},
    ]
    readout, fig = xwl.draw(0.3, 0.1, sims, sweep)
    assert readout.startswith("<b>tau = 0.3</b>") and "Nearest trained hard run" in readout
    assert fig.layout.title.text == xwl.EXPLORER_TITLE
    _, other = xwl.draw(2.0, 0.5, sims, sweep)
    assert len(other.data) == len(fig.data) and list(other.data[4].x) == [2.0, 2.0]
    assert len(xwl.draw(0.3, 1.0, sims)[1].data) == 5


def test_parse_setting():
    assert xwl.parse_setting("C0.3") == {"name": "C0.3", "loss": "contrastive", "temperature": 0.3}
    assert xwl.parse_setting("H1")["loss"] == "hard"
    assert xwl.parse_setting("HardSimple")["loss"] == "hard_simple"
    assert xwl.parse_setting({"loss": "hard", "temperature": 0.5})["name"] == "H0.5"
    with pytest.raises(ValueError, match="setting"):
        xwl.parse_setting("X0.1")


def test_digits_data_standardised():
    train, test = xwl.digits_data(n_test=397, seed=0)
    assert len(train) == 1400 and len(test) == 397
    flat = train.x.flatten(1)
    varying = flat.std(0) > 0
    assert flat.mean(0).abs().max() < 1e-4
    assert torch.allclose(flat.std(0)[varying], torch.ones(int(varying.sum())), atol=1e-4)


def test_tiny_sweep_returns_expected_keys():
    train, test = xwl.digits_data(n_test=397, seed=0)
    train = train.subset(slice(0, 128))
    results = xwl.run_sweep(
        ["C0.2", "H1.0"],
        train,
        test.subset(slice(0, 64)),
        epochs=1,
        batch_size=64,
        k=12,
        linear=False,
        keep_embeddings=True,
    )
    assert [r["name"] for r in results] == ["C0.2", "H1.0"]
    for r in results:
        assert {
            "name",
            "loss",
            "temperature",
            "k",
            "seed",
            "knn",
            "uniformity",
            "tolerance",
            "seconds",
            "z",
        } <= set(r)
        assert all(math.isfinite(r[m]) for m in ("knn", "uniformity", "tolerance"))
        assert r["z"].shape == (64, 32)
    assert results[0]["k"] is None and results[1]["k"] == 12
    table = xwl.summarise(results)
    assert list(table.index) == ["C0.2", "H1.0"]
    assert {"knn", "uniformity", "tolerance", "runs"} <= set(table.columns)


def test_paper_table_complete():
    for data in xwl.PAPER_TABLE1.values():
        assert set(data) == {"acc", "unif", "tol"}
        cols = {tuple(v) for v in data.values()}
        assert len(cols) == 1 and len(next(iter(cols))) == 10


def test_paper_vs_toy_matches_one_to_one_and_trends():
    toy = {
        "C0.1": {"acc": 0.95, "unif": 3.3, "tol": 0.35},
        "C0.3": {"acc": 0.96, "unif": 3.0, "tol": 0.45},
        "C1": {"acc": 0.90, "unif": 2.6, "tol": 0.55},
        "Simple": {"acc": 0.85, "unif": 2.0, "tol": 0.56},
        "H1": {"acc": 0.94, "unif": 3.3, "tol": 0.3},
    }
    table = xwl.paper_vs_toy(toy)
    assert table.loc["C0.07", "toy run"] == "C0.1"  # within a factor 1.5
    assert table.loc["C1", "toy run"] == "C1"
    assert table.loc["C0.7", "toy run"] == "-"  # C1 is taken by the paper's C1
    assert table.loc["HardSimple", "toy run"] == "-"
    trends = xwl.trend_table({"toy": toy})
    assert (trends.drop(columns="toy") != "no").sum().sum() > 30  # the paper mostly agrees
    assert trends.loc["accuracy peaks at an inner tau (reverse U)", "toy"] == "yes"
    assert trends.loc["HardSimple is more accurate than Simple", "toy"] == "-"
    assert (
        trends.loc["hard loss at the largest tau is more uniform than the ordinary one", "toy"]
        == "yes"
    )
