"""MLVGM views: generated pairs, the three training modes, the per-level shares, the explorer."""

from __future__ import annotations

import pytest
import torch

import contrastkit as ck
from contrastkit.generators import LEVELS, LatentLevelsGenerator
from contrastkit.methods import mlvgm_views as mv


@pytest.fixture
def gen():
    return LatentLevelsGenerator(seed=0)


def test_generated_pairs_are_seeded_shaped_and_keep_the_class(gen):
    x, xv, y = mv.generated_pairs(gen, 100, ("mid", "local"), seed=3)
    assert x.shape == xv.shape == (100, 32) and y.shape == (100,)
    assert torch.equal(x, mv.generated_pairs(gen, 100, ("mid", "local"), seed=3)[0])
    assert not torch.equal(x, xv)
    # the anchor is the generator's own sample for that seed
    assert torch.equal(x, gen.decode(gen.sample_latents(100, seed=3), seed=3))
    # a tiny walk stays near the anchor, a full redraw does not
    _, near, _ = mv.generated_pairs(gen, 100, ("local",), scale=0.01, seed=3)
    _, far, _ = mv.generated_pairs(gen, 100, ("local",), seed=3)
    assert (near - x).norm(dim=1).mean() < 0.2 * (far - x).norm(dim=1).mean()


@pytest.mark.parametrize("mode", mv.MODES)
def test_modes_give_a_finite_loss_and_train(gen, mode):
    torch.manual_seed(0)
    model = mv.GeneratedViews(gen, mode=mode, seed=0)
    if mode == "pairs":
        data = mv.generated_pairs(gen, 128, seed=1)[:2]
        batch = (data[0][:32], data[1][:32])
    else:
        data = gen.sample(128, seed=1).x
        batch = data[:32]
    loss = model.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.embed(data[0][:5] if mode == "pairs" else data[:5]).shape == (5, 64)
    hist = ck.fit(model, data, steps=30, batch_size=64, lr=2e-3, seed=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]


def test_continuous_sampling_draws_fresh_views_deterministically(gen):
    a = mv.GeneratedViews(gen, seed=0)
    b = mv.GeneratedViews(gen, seed=0)
    dummy = torch.zeros(16, 1)
    first, second = a.views(dummy), a.views(dummy)
    assert first[0].shape == (16, 32)
    assert not torch.equal(first[0], second[0])  # new anchors every step
    assert torch.equal(first[0], b.views(dummy)[0])  # same seed, same stream


def test_arguments_are_checked(gen):
    with pytest.raises(ValueError, match="mode"):
        mv.GeneratedViews(gen, mode="offline")
    with pytest.raises(ValueError, match="perturb"):
        mv.GeneratedViews(gen, perturb=("texture",))
    with pytest.raises(ValueError, match="perturb"):
        mv.GeneratedViews(gen, perturb=())
    with pytest.raises(ValueError, match="pairs"):
        mv.GeneratedViews(gen, mode="pairs").loss(torch.zeros(4, 32))


def test_level_shares_rank_the_local_level_first(gen):
    shares = mv.level_shares(gen, n=1000, seed=0)
    assert set(shares) == set(LEVELS)
    assert all(0 < v < 1.5 for v in shares.values())
    assert shares["local"] == max(shares.values())
    quiet = LatentLevelsGenerator(seed=0, scales={"mid": 0.0})  # an unused chunk shares nothing
    assert mv.level_shares(quiet, n=500)["mid"] == pytest.approx(0.0, abs=1e-9)
