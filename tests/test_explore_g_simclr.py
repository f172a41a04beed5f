"""The G-SimCLR explorer: false-negative rates of the three samplers at one K."""

import torch

from contrastkit.explore import g_simclr as ex


def test_draw_orders_the_samplers():
    y = torch.arange(400) % 10
    pseudo_by_k = {8: y.clone()}  # perfect clusters: guided = oracle
    fig = ex.draw(y, pseudo_by_k, batch_size=16, pool=4, floor=0.04, k=8, n_batches=20)
    rates = list(fig.data[0].y)
    assert rates[1] == rates[2] < rates[0] and rates[3] == 0.04
    assert fig.layout.title.text.startswith("K=8, B=16")
