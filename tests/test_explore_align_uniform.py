"""The align_uniform notebook's explorer: snapshot choice, points on the sphere, the figure."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.explore import align_uniform as xau
from contrastkit.methods import align_uniform as au

# ---------------------------------------------------------------------- explorer_state


@pytest.fixture
def snapshots():
    g = np.random.default_rng(0)
    return [
        {"step": s, "points": g.normal(size=(10, 3)) * 5, "align": a, "unif": u}
        for s, a, u in [(0, 0.1, -0.5), (50, 0.4, -2.0), (100, 0.5, -3.0)]
    ]


def test_explorer_shows_the_latest_snapshot_up_to_the_step(snapshots):
    assert xau.explorer_state(snapshots, 0)["index"] == 0
    s = xau.explorer_state(snapshots, 75)
    assert s["index"] == 1 and s["step"] == 50
    assert s["align"] == 0.4 and s["unif"] == -2.0
    assert s["path"] == ([0.1, 0.4], [-0.5, -2.0])
    assert xau.explorer_state(snapshots, 100)["index"] == 2
    assert xau.explorer_state(snapshots, 10_000)["index"] == 2
    assert xau.explorer_state(snapshots, -5)["index"] == 0


def test_explorer_puts_points_on_the_sphere(snapshots):
    p = xau.explorer_state(snapshots, 100)["points"]
    assert p.shape == (10, 3)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0)


def test_explorer_validates(snapshots):
    with pytest.raises(ValueError, match="empty"):
        xau.explorer_state([], 0)
    with pytest.raises(ValueError, match="step order"):
        xau.explorer_state(snapshots[::-1], 0)


def test_draw_shows_the_sphere_and_the_path(snapshots):
    fig = xau.draw(75, snapshots, labels=np.arange(10) % 2, names=["a", "b"])
    assert fig.layout.title.text.startswith("step 50:")
    path, now = fig.data[-2], fig.data[-1]
    assert list(path.x) == [-0.5, -2.0] and list(path.y) == [0.1, 0.4]
    assert list(now.x) == [-2.0] and list(now.y) == [0.4]
    assert len(xau.draw(100, snapshots, np.arange(10) % 2).data) == len(fig.data)


def test_measure_keeps_modes_and_snapshots_points():
    torch.manual_seed(0)
    model = au.AlignUniform(ck.models.SmallConvNet(widths=(4, 8)), proj_dim=3)
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    points = []
    model.train()
    m = xau.measure(model, x, x.flip(0), sphere_x=x[:4], points=points)
    assert model.training and all(sub.training for sub in model.modules())
    assert set(m) == {"align", "unif"} and m["align"] >= 0
    assert len(points) == 1 and points[0].shape == (4, 3)
    assert np.allclose(np.linalg.norm(points[0], axis=1), 1.0, atol=1e-5)
    assert xau.measure(model, x, x)["align"] == pytest.approx(0.0, abs=1e-10)
