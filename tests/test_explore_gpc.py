"""The GPC explorer: the clusters split/merge finds for a prior scale, drawn over a projection."""

import torch

from contrastkit.explore import gpc as explore


def test_draw_colours_points_by_the_clusters_found():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    x = (centres.repeat_interleave(40, 0) + 0.5 * torch.randn(120, 2, generator=g)).float()
    y = torch.full((120,), -1)
    y[:20], y[40:60] = 0, 1
    fig = explore.draw(1.0, x=x, y=y, xy=x.numpy(), k_init=5)
    assert "K = " in fig.layout.title.text and len(fig.data[0].marker.color) == 120
