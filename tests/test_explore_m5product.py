"""The M5Product notebook's explorer: one sample's graph and weightings."""

import pytest
import torch

from contrastkit.explore import m5product as xm


def _four_same_one_orthogonal():
    return torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def test_weights_view_is_normalised_over_present_modalities():
    h = _four_same_one_orthogonal()
    v = xm.weights_view(h, torch.tensor([True, True, False, True, True]), 5.0)
    for k in ("equal", "scale", "agreement"):
        assert v[k].sum().item() == pytest.approx(1.0) and v[k][2] == 0
    assert v["scale"].argmax() == 4 and v["agreement"][[0, 1, 3, 4]].argmin() == 3
    with pytest.raises(ValueError, match="present"):
        xm.weights_view(h, torch.zeros(5, dtype=torch.bool), 5.0)


def test_weights_figure_follows_the_checkboxes():
    h = _four_same_one_orthogonal()[None].repeat(2, 1, 1)  # (2 samples, 5, 2)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 0] = False
    bad = torch.zeros(2, 5, dtype=torch.bool)
    bad[1, 4] = True
    names = ["a", "b", "c", "d", "e"]
    args = (h, mask, bad, ["one", ""], names, 5.0, None)
    fig = xm.weights_figure(*args, sample=1, c=False)
    heat, *bars = fig.data
    assert [b.name for b in bars] == ["equal", "scale", "agreement"]
    assert bars[0].y[0] == 0 and bars[0].y[2] == 0 and sum(bars[0].y) == pytest.approx(1.0)
    assert "(no caption)" in fig.layout.title.text and "missing: ['a']" in fig.layout.title.text
    assert "corrupted: ['e']" in fig.layout.title.text
    empty = xm.weights_figure(*args, sample=1, b=False, c=False, d=False, e=False)
    assert "no modality left" in empty.layout.title.text and sum(empty.data[1].y) == 0
