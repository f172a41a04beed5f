"""The GRAM notebook's explorer: three unit vectors with given cosines, their volume, the pull."""

import pytest
import torch

from contrastkit.explore import gram as xg
from contrastkit.losses import gram_volume


def test_volume_of_cosines():
    out = xg.volume_of_cosines(0.4, 0.4, 0.1)
    v = out["vectors"]
    assert out["feasible"] and torch.allclose(
        v @ v.T,
        torch.tensor([[1, 0.4, 0.4], [0.4, 1, 0.1], [0.4, 0.1, 1]], dtype=torch.float64),
        atol=1e-9,
    )
    ref = gram_volume([v[:1], v[1:2], v[2:3]])[0]
    assert out["volume"] == pytest.approx(float(ref), abs=1e-6)
    assert out["pull"] == -1 and xg.volume_of_cosines(0.4, 0.4, 0.3)["pull"] == 1
    assert not xg.volume_of_cosines(0.9, 0.9, -0.9)["feasible"]
    with pytest.raises(ValueError, match="c12"):
        xg.volume_of_cosines(0.1, 0.1, 1.5)


def test_volume_figure():
    fig = xg.volume_figure(0.4, 0.4, 0.1)
    assert [t.name for t in fig.data] == ["text", "image", "tone"]
    ends = torch.tensor([[t.x[1], t.y[1], t.z[1]] for t in fig.data], dtype=torch.float64)
    assert torch.allclose(
        ends @ ends.T,
        xg.volume_of_cosines(0.4, 0.4, 0.1)["vectors"]
        @ xg.volume_of_cosines(0.4, 0.4, 0.1)["vectors"].T,
        atol=1e-9,
    )
    assert "pulls c_va down" in fig.layout.title.text
    assert xg.volume_figure(0.9, 0.9, -0.9).layout.title.text.startswith("no three unit")
