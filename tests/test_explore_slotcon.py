"""The SlotCon explorer: the prototype picker over stored checkpoints."""

import torch

from contrastkit.explore import slotcon as explore


def test_draw_counts_the_prototype_pixels():
    seg = torch.zeros(16, 6, 6, dtype=torch.long)
    seg[:, :2] = 1
    text, fig = explore.draw(0, 1, checkpoints=[(50, seg)], colours=torch.eye(3))
    assert text == "step 50: prototype 1 owns 192 of 576 pixels"
    assert fig.data[0].z.shape == (2 * 24, 8 * 24, 3)
