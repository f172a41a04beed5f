"""The supcon notebook's threshold explorer: pair cosines, the readout, the gallery."""

import pytest
import torch

from contrastkit.explore import supcon as xsc


def test_pair_cosines_and_readout():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 8, generator=g)
    y = torch.arange(40) % 4
    cos, same, index = xsc.pair_cosines(z, y)
    assert cos.shape == same.shape == (40 * 39 // 2,) and index.shape == (780, 2)
    zn = torch.nn.functional.normalize(z, dim=1)
    i, j = index[5]
    assert cos[5] == pytest.approx(float(zn[i] @ zn[j]), abs=1e-6)
    assert bool(same[5]) == bool(y[i] == y[j])
    assert int(same.sum()) == 4 * (10 * 9 // 2)
    low, high = xsc.threshold_readout(cos, same, -0.5), xsc.threshold_readout(cos, same, 0.5)
    assert low["same_below"] <= high["same_below"]
    assert low["different_above"] >= high["different_above"]
    assert xsc.threshold_readout(cos, same, -1.0)["same_below"] == 0.0
    assert xsc.threshold_readout(cos, same, 1.0)["different_above"] == 0.0
    with pytest.raises(ValueError, match="threshold"):
        xsc.threshold_readout(cos, same, 2.0)


def test_pairs_below_are_same_class_and_below():
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(30, 4, generator=g), torch.arange(30) % 3
    cos, same, index = xsc.pair_cosines(z, y)
    pairs = xsc.pairs_below(cos, same, index, 0.0, k=6)
    assert pairs.shape == (6, 2)
    zn = torch.nn.functional.normalize(z, dim=1)
    for i, j in pairs.tolist():
        assert y[i] == y[j] and float(zn[i] @ zn[j]) < 0.0
    assert xsc.pairs_below(cos, same, index, -1.0).shape == (0, 2)


def test_draw_reports_both_methods_and_shows_pairs_below():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(30) % 3
    pairs = {
        name: xsc.pair_cosines(torch.randn(30, 4, generator=g), y) for name in ("SimCLR", "SupCon")
    }
    images = torch.rand(30, 3, 8, 8, generator=g)
    readout, densities, gallery = xsc.draw(0.0, pairs, images, k=4)
    assert "<b>SimCLR</b>" in readout and "<b>SupCon</b>" in readout
    assert len(densities.data) == 4 and densities.layout.shapes[0].x0 == 0.0
    assert gallery.layout.title.text.startswith("SimCLR: 4 same-class pairs")
    _, _, none = xsc.draw(-1.0, pairs, images)
    assert none.layout.title.text.startswith("SimCLR: 0 same-class pairs")
    assert len(none.data) == 1
