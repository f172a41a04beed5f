"""The HBI notebook's explorer: the one-pair views are seeded, keep the model's modes, and
``draw`` shows the two maps with the distance to a many-coalition estimate."""

import torch

from contrastkit.explore import hbi as E
from contrastkit.methods import hbi


def _model_and_pair():
    torch.manual_seed(0)
    model = hbi.HBI(4, 20, dim=16, levels=2, events=2, phrases=2)
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 4, 3, 8, 8, generator=g)
    text = torch.randint(1, 20, (2, 5), generator=g)
    text[0, 3:] = 0
    return model, video, text


def test_interaction_view_is_seeded_and_keeps_modes():
    model, video, text = _model_and_pair()
    model.train()
    s1, b1 = E.interaction_view(model, video[0], text[0], samples=8, seed=3)
    s2, b2 = E.interaction_view(model, video[0], text[0], samples=8, seed=3)
    assert s1.shape == b1.shape == (3, 4) and torch.equal(b1, b2) and torch.equal(s1, s2)
    assert all(m.training for m in model.modules())


def test_draw_shows_both_maps_and_the_estimate_error():
    model, video, text = _model_and_pair()
    words = [f"w{i}" for i in range(20)]
    fig, label = E.draw(0, 8, 1, model=model, video=video, text=text, words=words)
    assert len(fig.data) == 2 and fig.data[0].z.shape == (3, 4)
    assert list(fig.data[1].y) == E.level_view(model, video[0], text[0], 1, 8, 0, words)["rows"]
    assert label.startswith("max |B - B(256 samples)| = ")
    fig2, _ = E.draw(1, 8, 2, model=model, video=video, text=text, words=words)
    assert fig2.data[0].z.shape[1] == 2  # two events
