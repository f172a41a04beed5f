"""The C3-GAN explorer: the mean assignment and both entropies as the temperature moves."""

import math

import torch

from contrastkit.explore import c3gan as explore


def test_colder_is_more_confident():
    g = torch.Generator().manual_seed(0)
    h, cents = torch.randn(50, 4, generator=g), torch.randn(3, 4, generator=g)
    mean_p, cond_cold, marg = explore.assignments(0.05, h, cents)
    _, cond_warm, _ = explore.assignments(1.0, h, cents)
    assert torch.allclose(mean_p.sum(), torch.tensor(1.0)) and cond_cold < cond_warm
    assert 0 <= marg <= math.log(3) + 1e-6
    text, fig = explore.draw(0.1, h=h, centroids=cents)
    assert "conditional entropy" in text and len(fig.data[0].y) == 3
