"""viz.label_image: ids -> colours, empty cells white, a window kept bright, bad input."""

import pytest
import torch

from contrastkit import viz


def test_colours_scale_and_empty_cells():
    ids = torch.tensor([[[0, -1], [11, 2]]])
    img = viz.label_image(ids, scale=3)
    assert img.shape == (1, 3, 6, 6)
    assert torch.equal(img[0, :, 0, 0], viz.PART_PALETTE[0])
    assert torch.equal(img[0, :, 0, 3], torch.ones(3))  # -1: white
    assert torch.equal(img[0, :, 3, 0], viz.PART_PALETTE[11])
    own = viz.label_image(ids.clamp_min(0), palette=torch.eye(12)[:, :3], scale=1)
    assert torch.equal(own[0, :, 1, 1], torch.tensor([0.0, 0.0, 1.0]))


def test_window_dims_the_cells_outside():
    ids = torch.zeros(2, 3, 3, dtype=torch.long)
    img = viz.label_image(ids, scale=1, window=(torch.tensor([0, 1]), torch.tensor([0, 1])),
                          window_size=2)  # fmt: skip
    bright, dim = viz.PART_PALETTE[0], 0.35 * viz.PART_PALETTE[0] + 0.1
    assert torch.allclose(img[0, :, 1, 1], bright) and torch.allclose(img[0, :, 2, 2], dim)
    assert torch.allclose(img[1, :, 0, 0], dim) and torch.allclose(img[1, :, 2, 2], bright)


def test_bad_input():
    with pytest.raises(ValueError, match="labels"):
        viz.label_image(torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="palette"):
        viz.label_image(torch.full((1, 2, 2), 12))
    with pytest.raises(ValueError, match="window_size"):
        viz.label_image(torch.zeros(1, 2, 2, dtype=torch.long), window=([0], [0]))
