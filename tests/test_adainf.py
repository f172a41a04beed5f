"""AdaInf and the shared latent-levels generator: seeded, shaped, labelled; the inflation recipe;
the method's loss; the quality explorer's pure update function."""

from __future__ import annotations

import pytest
import torch

import contrastkit as ck
from contrastkit.generators import LEVELS, LatentLevelsGenerator, vector_augment
from contrastkit.methods import adainf as ai

# -- the generator (shared with mlvgm_views) ------------------------------------------------------


def test_generator_is_seeded_shaped_and_labelled():
    gen = LatentLevelsGenerator(dim=24, n_classes=5, latent_dims=(3, 4, 5), seed=0)
    s = gen.sample(400, seed=1)
    assert s.x.shape == (400, 24) and s.x.dtype == torch.float32
    assert s.y.shape == (400,) and s.y.dtype == torch.int64
    assert set(s.y.tolist()) == set(range(5))
    assert torch.equal(s.y, s.latents["class"])
    assert {k: tuple(v.shape) for k, v in s.latents.items() if k != "class"} == {
        "global": (400, 3),
        "mid": (400, 4),
        "local": (400, 5),
    }
    assert torch.equal(s.x, LatentLevelsGenerator(24, 5, (3, 4, 5), seed=0).sample(400, seed=1).x)
    assert not torch.equal(s.x, gen.sample(400, seed=2).x)  # sampling seed
    assert not torch.equal(s.x, LatentLevelsGenerator(24, 5, (3, 4, 5), seed=1).sample(400, 1).x)
    assert torch.isfinite(s.x).all()
    assert torch.equal(s.mix, torch.zeros(400))  # a faithful generator mixes no classes


def test_truncation_bounds_the_latents():
    lat = LatentLevelsGenerator(truncation=1.5).sample_latents(2000, seed=0)
    assert all(lat[lv].abs().max() <= 1.5 for lv in LEVELS)
    free = LatentLevelsGenerator(truncation=None).sample_latents(2000, seed=0)
    assert max(float(free[lv].abs().max()) for lv in LEVELS) > 2.5


def test_local_level_dominates_and_the_class_is_global():
    gen = LatentLevelsGenerator(seed=0)
    s = gen.sample(1000, seed=0)
    change = {}
    for lv in LEVELS:
        x2 = gen.decode(gen.resample(s.latents, [lv], seed=5), seed=0)
        change[lv] = float((x2 - s.x).pow(2).sum(1).mean())
    assert change["local"] > change["mid"]  # the nuisance level moves the output most
    kept = gen.resample(s.latents, ["mid", "local"], seed=3)
    assert torch.equal(kept["class"], s.y) and torch.equal(kept["global"], s.latents["global"])
    moved = gen.resample(s.latents, ["global"], seed=3)
    assert (moved["class"] != s.y).float().mean() > 0.8  # the class is part of the global level
    walked = gen.resample(s.latents, ["local"], seed=3, scale=0.0)
    assert torch.equal(walked["local"], s.latents["local"])


def test_degraded_generator_mixes_classes_and_keeps_the_original():
    gen = LatentLevelsGenerator(seed=0)
    before = gen.sample(50, seed=0).x
    bad = gen.degraded(0.5, seed=0)
    s = bad.sample(500, seed=0)
    assert s.mix.max() <= 0.4 + 1e-6 and s.mix.mean() > 0.1
    assert (s.other != s.y).all()
    assert torch.equal(gen.sample(50, seed=0).x, before)  # the original is untouched
    assert torch.allclose(gen.degraded(1.0).sample(50, seed=0).x, before)


def test_generator_arguments_are_checked():
    with pytest.raises(ValueError, match="n_classes"):
        LatentLevelsGenerator(n_classes=1)
    with pytest.raises(ValueError, match="latent_dims"):
        LatentLevelsGenerator(latent_dims=(4, 4))
    with pytest.raises(ValueError, match="truncation"):
        LatentLevelsGenerator(truncation=0.0)
    gen = LatentLevelsGenerator()
    with pytest.raises(ValueError, match="levels"):
        gen.resample(gen.sample_latents(4), ["texture"])
    with pytest.raises(ValueError, match="quality"):
        gen.degraded(1.5)
    with pytest.raises(ValueError, match="n must"):
        gen.sample(0)


def test_vector_augment_strength():
    torch.manual_seed(0)
    x = torch.randn(256, 16)
    assert torch.equal(vector_augment(x, 0.0), x)
    cos = [
        float(torch.nn.functional.cosine_similarity(vector_augment(x, s), x).mean())
        for s in (0.2, 0.6, 1.0)
    ]
    assert cos[0] > cos[1] > cos[2]
    with pytest.raises(ValueError, match="strength"):
        vector_augment(x, 1.5)
    with pytest.raises(ValueError, match="x must"):
        vector_augment(x[0], 0.5)


# -- AdaInf --------------------------------------------------------------------------------------


def test_inflate_and_real_share():
    real, fake = torch.ones(3, 2), torch.zeros(5, 2)
    rows = ai.inflate(real, fake, dup=4)
    assert rows.shape == (17, 2) and rows[:12].eq(1).all() and rows[12:].eq(0).all()
    assert torch.equal(ai.inflate(real), real)
    assert ai.real_share(3, 5, 4) == pytest.approx(12 / 17)
    assert ai.real_share(300, 3000, 1) == pytest.approx(1 / 11)
    with pytest.raises(ValueError, match="dup"):
        ai.inflate(real, fake, dup=0)
    with pytest.raises(ValueError, match="generated"):
        ai.inflate(real, torch.zeros(5, 3))


def test_loss_finite_trains_and_checks_strength():
    gen = LatentLevelsGenerator(seed=0)
    data = ai.inflate(gen.sample(64, seed=1).x, gen.degraded(0.5).sample(64, seed=2).x, dup=2)
    torch.manual_seed(0)
    model = ai.AdaInf(32, strength=ai.ADAINF_STRENGTH)
    loss = model.loss(data[:32])
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.embed(data[:5]).shape == (5, 64)
    hist = ck.fit(model, data, steps=30, batch_size=64, lr=2e-3, seed=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    with pytest.raises(ValueError, match="strength"):
        ai.AdaInf(32, strength=-0.1)
