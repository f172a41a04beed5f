"""The byol_simsiam notebook: collapse indicators in eval mode and the variant explorer."""

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.explore import byol_simsiam as xbs
from contrastkit.methods import byol_simsiam as bs

# ---------------------------------------------------------------------- explorer_state


@pytest.fixture
def runs():
    g = np.random.default_rng(0)
    return {
        "SimSiam": {
            "step": [0, 10],
            "std": [0.1, 0.12],
            "erank": [5.0, 9.0],
            "dim": 16,
            "points": g.normal(size=(20, 3)),
        },
        "no stop-gradient": {
            "step": [0, 10],
            "std": [0.1, 0.001],
            "erank": [5.0, 1.1],
            "dim": 16,
            "points": np.zeros((20, 3)),
        },
    }


def test_explorer_puts_the_chosen_run_first_and_keeps_all(runs):
    s = xbs.explorer_state(runs, "no stop-gradient", "std")
    assert list(s["curves"]) == ["no stop-gradient", "SimSiam"]
    assert s["curves"]["SimSiam"] == ([0, 10], [0.1, 0.12])
    assert s["final"] == 0.001
    assert s["reference"] == pytest.approx(0.25)
    assert s["fraction"] == pytest.approx(0.004)
    assert s["points"].shape == (20, 3) and not s["points"].any()


def test_explorer_erank_reference_is_the_dimension(runs):
    s = xbs.explorer_state(runs, "SimSiam", "erank")
    assert s["reference"] == 16.0 and s["final"] == 9.0
    assert math.isclose(s["fraction"], 9 / 16)
    assert list(s["curves"]) == ["SimSiam", "no stop-gradient"]


def test_explorer_validates(runs):
    with pytest.raises(KeyError, match="unknown variant"):
        xbs.explorer_state(runs, "BYOL")
    with pytest.raises(ValueError, match="metric"):
        xbs.explorer_state(runs, "SimSiam", "knn")


def test_draw_highlights_the_chosen_run(runs):
    curves, points = xbs.draw(
        "SimSiam", "erank", runs, {"SimSiam": "red", "no stop-gradient": "blue"}
    )
    assert [t.name for t in curves.data] == ["SimSiam", "no stop-gradient", "isotropic"]
    assert curves.data[0].line.width == 4 and curves.data[1].line.width == 1
    assert list(curves.data[2].y) == [16.0, 16.0]
    assert curves.layout.yaxis.title.text == "effective rank"
    assert len(points.data[0].x) == 20


def test_indicators_read_the_projector_in_eval_mode_and_restore_it():
    torch.manual_seed(0)
    model = bs.BYOLSimSiam(ck.models.SmallConvNet(widths=(4, 8)), variant="byol", proj_dim=8)
    x = torch.rand(12, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    model.train()
    out = xbs.indicators(model, x)
    assert all(m.training for m in model.modules())
    with torch.no_grad(), ck.eval_mode(model):
        z = model.project(x)
    assert out["std"] == pytest.approx(ck.metrics.embedding_std(z))
    assert out["erank"] == pytest.approx(ck.metrics.effective_rank(z))
    assert xbs.projections(model, x).shape == (12, 8)
