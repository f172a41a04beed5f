"""The joint image-volume explorer: a slice and its attention row."""

import torch

from contrastkit.explore import joint_image_volume as explore


def test_draw_shows_the_slice_and_its_attention():
    volumes = torch.rand(2, 4, 5, 5)
    attention = torch.softmax(torch.randn(2, 5, 5), -1)
    fig = explore.draw(1, 2, volumes=volumes, attention=attention)
    assert [list(r) for r in fig.data[0].z] == volumes[1, 2].flip(0).tolist()
    assert list(fig.data[1].y) == attention[1, 3].tolist()
