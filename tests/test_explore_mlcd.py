"""The MLCD explorer: k closest centres, one grid row per query."""

import torch

from contrastkit.explore import mlcd as explore


def test_draw_shows_each_query_and_its_k_centres():
    g = torch.Generator().manual_seed(0)
    feats, cents = (
        torch.randn(3, 4, generator=g),
        torch.nn.functional.normalize(torch.randn(5, 4, generator=g), dim=1),
    )
    order = explore.closest_centres(feats, cents, 2)
    assert order.shape == (3, 2) and (order[:, 0] != order[:, 1]).all()
    fig = explore.draw(2, queries=torch.rand(3, 1, 8, 16), features=feats, centroids=cents,
                       cluster_means=torch.rand(5, 1, 8, 16))  # fmt: skip
    assert "2 closest centres" in fig.layout.title.text and len(fig.data) == 1
