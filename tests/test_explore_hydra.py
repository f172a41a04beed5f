"""The Hydra explorer: the gated pair view and its figure."""

import pytest
import torch

from contrastkit.explore import hydra as ex


def test_pair_view():
    g = torch.Generator().manual_seed(0)
    u = torch.nn.functional.normalize(torch.randn(30, 6, generator=g), dim=1)
    y = torch.arange(30) % 3
    gate = torch.tensor([0.9, 0.8, 0.7, 0.1, 0.2, 0.6])
    v = ex.pair_view(u, y, gate, 0, 1)
    assert v["xy"].shape == (30, 2)
    assert torch.equal(v["group"], torch.tensor([0, 1, 2] * 10))
    assert v["open"] == 4
    sel = v["group"] < 2
    assert torch.allclose(v["xy"][sel].mean(0), torch.zeros(2), atol=1e-5)  # centred on the pair
    assert -1 <= v["cos_ab"] <= 1
    # a gate open on one dimension only: every gated cosine is the sign of that coordinate
    only0 = torch.zeros(6)
    only0[0] = 1.0
    s = u[:, 0].sign()
    expected = float((s[y == 0][:, None] * s[y == 1][None, :]).mean())
    assert ex.pair_view(u, y, only0, 0, 1)["cos_ab"] == pytest.approx(expected)
    same = ex.pair_view(u, y, gate, 2, 2)
    assert (same["group"][y == 2] == 0).all()
    with pytest.raises(ValueError, match="gate"):
        ex.pair_view(u, y, gate[:-1], 0, 1)
    with pytest.raises(ValueError, match="a=7"):
        ex.pair_view(u, y, gate, 7, 8)


def test_draw_names_the_pair():
    g = torch.Generator().manual_seed(1)
    u = torch.nn.functional.normalize(torch.randn(20, 4, generator=g), dim=1)
    y = torch.arange(20) % 2
    table = torch.rand(2, 2, 4, generator=g)
    fig = ex.draw(u, y, table, ["disk", "square"], "disk", "square")
    assert len(fig.data) == 3 and fig.layout.title.text.startswith("disk + square")
    assert sum(len(t.x) for t in fig.data) == 20
