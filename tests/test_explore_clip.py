"""The CLIP notebook's explorers: zero-shot accuracy per prompt template, text -> image search."""

import pytest
import torch

import contrastkit as ck
from contrastkit.data.captions import VOCAB, make_captioned_shapes, tokenize
from contrastkit.explore import clip as xc
from contrastkit.methods import clip as cl


@pytest.fixture(scope="module")
def setup():
    data = make_captioned_shapes(40, image_size=16, seed=0)
    ck.seed_everything(0)
    model = cl.CLIP(ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16), 16)
    return model, data


def test_prompt_figure_matches_zero_shot(setup):
    model, data = setup
    model.train()
    fig = xc.prompt_figure(model, data.x, data.y, data.classes, "a photo of a {}")
    want = cl.zero_shot(model, data.x, data.y, data.classes, "a photo of a {}")
    assert list(fig.data[0].x) == list(data.classes)
    assert torch.allclose(torch.tensor(fig.data[0].y), want["per_class"], equal_nan=True)
    assert f"zero-shot accuracy {want['accuracy']:.3f}" in fig.layout.title.text
    assert model.training  # the explorer leaves the model's mode alone


def test_query_figure_shows_the_top_images(setup):
    model, data = setup
    fig = xc.query_figure(model, data.x, data.y, data.classes, "a red star", k=4)
    ids, _ = cl.top_images(model, data.x, tokenize("a red star"), k=4)
    names = ", ".join(data.classes[int(i)] for i in data.y[ids])
    assert fig.layout.title.text == f"top 4 for 'a red star': {names}"
    assert xc.query_figure(
        model, data.x, data.y, data.classes, "", k=2
    ).layout.title.text.startswith("top 2 for 'a'")
