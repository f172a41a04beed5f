"""The Mugs explorer: group targets against the teacher temperature and centring."""

import torch

from contrastkit.explore import mugs as explore


def test_centring_spreads_the_targets():
    scores = torch.zeros(16, 4)
    scores[:, 0] = 1.0  # every sample prefers prototype 0
    center = scores.mean(0)
    _, used, ppl_raw = explore.targets(0.05, False, scores, center)
    _, _, ppl_centred = explore.targets(0.05, True, scores, center)
    assert torch.allclose(used.sum(), torch.tensor(1.0)) and ppl_raw < ppl_centred
    text, fig = explore.draw(0.05, True, scores=scores, center=center)
    assert "prototypes in use" in text and len(fig.data) == 2
