"""Alignment + uniformity: the loss it trains, a few steps lowering it."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.methods import align_uniform as au


def tiny(**kwargs):
    torch.manual_seed(0)
    return au.AlignUniform(ck.models.SmallConvNet(widths=(4, 8)), proj_dim=3, **kwargs)


@pytest.fixture
def x():
    return torch.rand(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_loss_is_the_library_objective_on_the_two_views(x):
    model = tiny(alpha=2.0, t=3.0, lam=0.5)
    torch.manual_seed(1)
    loss = model.loss(x)
    torch.manual_seed(1)
    v1, v2 = ck.views(x, 2, "simclr")
    z1, z2 = model.projector(model.encoder(torch.cat([v1, v2]))).chunk(2)
    assert torch.isfinite(loss)
    assert torch.allclose(loss, ck.align_uniform_loss(z1, z2, 2.0, 3.0, 0.5))
    # on the sphere alignment is in [0, 4] and uniformity in [-4t, 0]
    assert -4 * 3.0 * 0.5 - 1e-6 <= float(loss.detach()) <= 4.0 + 1e-6


def test_embed_is_the_encoder_before_the_projector(x):
    model = tiny().eval()
    assert torch.equal(model.embed(x), model.encoder(x))
    assert model.embed(x).shape == (8, 8)
    assert model.projector(model.embed(x)).shape == (8, 3)


def test_lam_zero_is_pure_alignment(x):
    model = tiny(lam=0.0)
    torch.manual_seed(2)
    loss = model.loss(x)
    torch.manual_seed(2)
    v1, v2 = ck.views(x, 2, "simclr")
    z1, z2 = model.projector(model.encoder(torch.cat([v1, v2]))).chunk(2)
    assert torch.allclose(loss, ck.alignment(z1, z2))


def test_a_few_steps_lower_the_loss():
    data = ck.make_shapes(64, image_size=8, seed=0)
    model = tiny()

    def fixed_loss():
        torch.manual_seed(123)  # the same views before and after
        with torch.no_grad():
            return float(model.loss(data.x))

    before = fixed_loss()
    hist = ck.fit(model, data.x, steps=30, batch_size=32, lr=5e-3, progress=False)
    after = fixed_loss()
    assert all(np.isfinite(hist.loss))
    assert after < before - 0.01, (before, after)


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        tiny(alpha=0.0)
    with pytest.raises(ValueError, match="lam"):
        tiny(lam=-1.0)
