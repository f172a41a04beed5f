"""The Theme Transformer views: piano rolls and the temperature explorer; generation keeps the
model's mode."""

import torch

from contrastkit.explore import theme_transformer as explore
from contrastkit.methods import theme_transformer as tt


def test_piano_roll_splits_highlighted_notes():
    tokens = torch.tensor([[1, 2, 3], [4, 5, 6]])
    fig = explore.piano_roll(tokens, tokens > 2, "t")
    assert len(fig.data) == 2 and len(fig.data[1].x) == 4


def test_draw_one_roll_per_generator_and_modes_kept():
    torch.manual_seed(0)
    model = tt.ThemeTransformer(6, 8, 4, dim=16, layers=1, heads=2)
    theme, prompt = torch.randint(0, 6, (3, 4)), torch.randint(0, 6, (3, 4))
    gate = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0]).repeat(3, 1)
    figs = explore.draw(0.8, generators={"a": model, "b": model}, theme=theme, prompt=prompt,
                        gate=gate)  # fmt: skip
    assert len(figs) == 2 and "of 3 songs" in figs[0].layout.title.text
    assert model.training  # generate ran in eval mode and restored the mode
