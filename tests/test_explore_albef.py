"""The ALBEF notebook's explorer: soft targets and the heatmap the alpha slider shows."""

import torch

from contrastkit.explore import albef as E


def test_soft_targets_rows_sum_to_one():
    sims = torch.randn(5, 5).tanh()
    t = E.soft_targets(sims, 0.4, 0.1)
    assert torch.allclose(t.sum(dim=1), torch.ones(5))
    assert torch.equal(E.soft_targets(sims, 0.0, 0.1), torch.eye(5))


def test_draw_shows_the_targets_and_the_mismatched_diagonal():
    sims = torch.randn(4, 4, generator=torch.Generator().manual_seed(0)).tanh()
    matched = torch.tensor([True, False, True, True])
    fig = E.draw(0.0, sims=sims, temperature=0.1, labels=list("abcd"), matched=matched)
    assert fig.data[0].z.tolist() == torch.eye(4).tolist()
    assert "mismatched pairs 1.00" in fig.layout.title.text
    fig = E.draw(1.0, sims=sims, temperature=0.1, labels=list("abcd"), matched=matched)
    expected = float((sims / 0.1).softmax(dim=1)[1, 1])
    assert f"mismatched pairs {expected:.2f}" in fig.layout.title.text
