"""BYOL / SimSiam: finite loss, the EMA target, what the ablation flags do."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.methods import byol_simsiam as bs


def tiny(**kwargs):
    torch.manual_seed(0)
    return bs.BYOLSimSiam(ck.models.SmallConvNet(widths=(4, 8)), proj_dim=8, **kwargs)


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def grads(model, x, seed=0):
    """Gradients of one loss evaluation with the views' randomness fixed by ``seed``."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    model.loss(x).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stop_gradient": False},
        {"predictor": False},
        {"variant": "byol"},
        {"variant": "byol", "predictor": False},
    ],
)
def test_loss_is_finite_in_range_and_embed_shape(kwargs, x):
    model = tiny(**kwargs)
    loss = model.loss((x, torch.zeros(6, dtype=torch.long)))  # fit's (x, y) batches too
    assert torch.isfinite(loss)
    assert -1.0 - 1e-6 <= float(loss.detach()) <= 1.0 + 1e-6  # minus a cosine
    loss.backward()
    assert model.embed(x).shape == (6, 8)
    assert model.project(x).shape == (6, 8)


def test_byol_target_gets_no_gradient_and_follows_the_ema(x):
    model = tiny(variant="byol", momentum=0.9)
    target = list(model.target.parameters())
    assert target and all(not p.requires_grad for p in target)
    online = list(model.online.parameters())
    assert all(torch.equal(t, o) for t, o in zip(target, online, strict=True))  # starts as a copy
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model.loss(x).backward()
    assert all(p.grad is None for p in target)
    before = [t.clone() for t in target]
    opt.step()
    model.after_step(0)
    moved = False
    for t, b, o in zip(target, before, online, strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * o.detach(), atol=1e-6)
        moved |= not torch.equal(t, b)
    assert moved, "the target did not move after an optimiser step"


def test_simsiam_has_no_target_network_and_after_step_is_harmless(x):
    model = tiny()
    assert model.target is None
    before = [p.clone() for p in model.parameters()]
    model.after_step(0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_stop_gradient_changes_the_gradient(x):
    # With the stop-gradient, each view's z receives gradient only through its prediction.
    # Without a predictor (p = z) SimSiam's paper notes the two cases differ by exactly a factor
    # of two: D(z1, sg z2) + D(z2, sg z1) passes half the gradient of D(z1, z2) + D(z2, z1).
    sg = grads(tiny(predictor=False), x)
    no_sg = grads(tiny(predictor=False, stop_gradient=False), x)
    assert sg.keys() == no_sg.keys()
    for name in sg:
        torch.testing.assert_close(no_sg[name], 2 * sg[name], rtol=1e-4, atol=1e-7)
    # With the predictor the target branch is a real extra path: the gradients differ.
    sg = grads(tiny(), x)
    no_sg = grads(tiny(stop_gradient=False), x)
    diff = max(float((sg[n] - no_sg[n]).abs().max()) for n in sg if n.startswith("encoder"))
    assert diff > 1e-6


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_gradient_reaches_the_target_side_only_without_stop_gradient(stop_gradient, x, monkeypatch):
    # The target t = z of the other view: watch for gradient flowing back into it.
    seen = {}
    orig = bs.negative_cosine

    def spy(p, z, stop_gradient=True):
        z.register_hook(lambda g: seen.setdefault("target_grad", g))
        return orig(p, z, stop_gradient)

    monkeypatch.setattr(bs, "negative_cosine", spy)
    tiny(stop_gradient=stop_gradient).loss(x).backward()
    assert ("target_grad" in seen) == (not stop_gradient)


def test_predictor_flag_removes_the_predictor(x):
    assert isinstance(tiny(predictor=False).predictor, torch.nn.Identity)
    with_pred = sum(p.numel() for p in tiny().predictor.parameters())
    assert with_pred > 0
    g = grads(tiny(), x)
    assert any(n.startswith("predictor") and v.abs().sum() > 0 for n, v in g.items())


def test_output_bn_flag_ends_the_projector_with_batchnorm():
    assert not isinstance(tiny().projector[-1], torch.nn.BatchNorm1d)
    assert isinstance(tiny(output_bn=True).projector[-1], torch.nn.BatchNorm1d)
    byol = tiny(variant="byol", output_bn=True)  # the target mirrors the online projector
    assert isinstance(byol.target.target[1][-1], torch.nn.BatchNorm1d)


def test_bad_arguments():
    enc = ck.models.SmallConvNet(widths=(4, 8))
    with pytest.raises(ValueError, match="variant"):
        bs.BYOLSimSiam(enc, variant="dino")
    with pytest.raises(ValueError, match="stop_gradient"):
        bs.BYOLSimSiam(enc, variant="byol", stop_gradient=False)


def test_a_few_steps_lower_the_loss():
    data = ck.make_shapes(64, image_size=8, seed=0)
    for kwargs in ({}, {"variant": "byol"}):
        model = tiny(**kwargs)
        hist = ck.fit(model, data.x, steps=30, batch_size=32, lr=3e-3, progress=False)
        assert np.mean(hist.loss[-2:]) < hist.loss[0]
