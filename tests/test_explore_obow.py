"""The OBoW explorer: BoW histograms and perplexity against the sharpness."""

import torch
import torch.nn.functional as F

from contrastkit.explore import obow as explore


def test_sharper_assignment_uses_fewer_words():
    g = torch.Generator().manual_seed(0)
    local = F.normalize(torch.randn(20, 9, 8, generator=g), dim=-1)
    vocab = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    one, mean_bow, ppl_sharp = explore.bags(100.0, local, vocab, 1.0)
    _, _, ppl_soft = explore.bags(0.1, local, vocab, 1.0)
    assert one.shape == mean_bow.shape == (6,) and ppl_sharp <= ppl_soft <= 6 + 1e-4
    text, fig = explore.draw(15.0, local=local, vocabulary=vocab, scale=1.0)
    assert text.startswith("perplexity") and len(fig.data) == 2
