"""The P2P explorer: pseudo-masks and their mIoU at a background threshold."""

import torch

from contrastkit.explore import pixel_prototype as explore


def test_masks_follow_the_threshold():
    cam = torch.zeros(2, 2, 3, 3)
    cam[:, 0, 0] = 1.0  # class 0 lights the top row
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    target = torch.zeros(2, 3, 3, dtype=torch.long)
    target[:, 0] = 1
    masks, scores = explore.masks_at(0.5, {"cam": cam}, labels, target)
    assert torch.equal(masks["cam"], target) and scores["cam"] > 0.99
    text, fig = explore.draw(0.5, cams={"cam": cam}, labels=labels, target=target, n=2)
    assert text.startswith("rows: truth · cam | mIoU cam 1.000")
    assert fig.data[0].z.shape == (2 * 12, 2 * 12, 3)
