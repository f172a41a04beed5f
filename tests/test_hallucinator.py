"""Hallucinator: the extrapolation, the generator, the loss on top of SimCLR and SimSiam."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import contrastkit as ck
from contrastkit.methods import hallucinator as hl
from contrastkit.methods.byol_simsiam import BYOLSimSiam
from contrastkit.methods.simclr import SimCLR


def encoder():
    return ck.models.SmallConvNet(widths=(4, 8))


def tiny(base="simclr", **kwargs):
    torch.manual_seed(0)
    b = (
        SimCLR(encoder(), proj_dim=8)
        if base == "simclr"
        else BYOLSimSiam(encoder(), proj_dim=8, variant=base)
    )
    return hl.Hallucinator(b, **kwargs)


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_extrapolate_moves_away_from_the_key():
    q, k = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.equal(hl.extrapolate(q, k, 0.0), q)
    assert torch.allclose(hl.extrapolate(q, k, 0.1), torch.tensor([[1.1, -0.1]]))
    # per-sample ratios broadcast; the distance to the key grows by (1 + lam)
    g = torch.Generator().manual_seed(1)
    q, k, lam = (
        torch.randn(5, 4, generator=g),
        torch.randn(5, 4, generator=g),
        torch.rand(5, 1, generator=g),
    )
    out = hl.extrapolate(q, k, lam)
    assert torch.allclose((out - k).norm(dim=1), (1 + lam[:, 0]) * (q - k).norm(dim=1))


def test_generator_shapes_ratio_and_detached_key():
    gen = hl.PositiveGenerator(8, hidden=16, max_ratio=0.1)
    q, k = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)
    h = gen(q, k)
    assert h.shape == (5, 8)
    h.sum().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None  # the key enters without gradient
    gen.eval()  # fixed lam gives a deterministic output; scaling q, k changes nothing (normalised)
    with torch.no_grad():
        assert torch.allclose(gen(q, k, 0.05), gen(3 * q, 2 * k, 0.05), atol=1e-6)
    with pytest.raises(ValueError, match="max_ratio"):
        hl.PositiveGenerator(8, max_ratio=-0.1)


@pytest.mark.parametrize("base", ["simclr", "simsiam", "byol"])
def test_loss_is_finite_and_embed_is_the_base_encoder(base, x):
    m = tiny(base)
    loss = m.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert m.embed(x).shape == (6, 8)
    assert torch.equal(m.embed(x), m.base.encoder(x))
    q, k, h, v = m.pairs(x)
    assert q.shape == k.shape == h.shape == (12, 8) and v.shape == (12, 3, 8, 8)


@pytest.mark.parametrize("base", ["simclr", "simsiam", "byol"])
def test_weight_zero_is_exactly_the_base_loss(base, x):
    m = tiny(base, weight=0.0)
    torch.manual_seed(3)
    ours = m.loss(x)
    torch.manual_seed(3)  # the same views: the generator draws its ratios after them
    theirs = m.base.loss(x)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_simclr_hallucinated_term_is_nt_xent_of_h_against_the_key(x):
    m = tiny("simclr", weight=1.0)
    torch.manual_seed(4)
    loss = m.loss(x)
    torch.manual_seed(4)
    q, k, h, _ = m.pairs(x)
    n = 6
    want = 0.5 * ck.losses.nt_xent(h[:n], q[n:], 0.5) + 0.5 * ck.losses.nt_xent(h[n:], q[:n], 0.5)
    assert torch.allclose(loss, want, atol=1e-5)


def test_simsiam_hallucination_predicts_the_key_without_gradient_to_it(x):
    m = tiny("simsiam", weight=1.0)
    torch.manual_seed(5)
    q, k, h, _ = m.pairs(x)
    want = -F.cosine_similarity(m.base.predictor(h), k.detach(), dim=1).mean()
    torch.manual_seed(5)
    assert torch.allclose(m.loss(x), want, atol=1e-5)


def test_gradients_reach_encoder_and_generator(x):
    m = tiny("simclr")
    m.loss(x).backward()
    for part in (m.base.encoder, m.base.projector, m.generator):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_byol_after_step_moves_the_target(x):
    m = tiny("byol")
    before = [p.clone() for p in m.base.target.parameters()]
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    m.loss(x).backward()
    opt.step()
    m.after_step(0)
    assert any(not torch.equal(a, b) for a, b in zip(before, m.base.target.parameters()))


def test_an_encoder_is_wrapped_in_simclr_and_augment_overrides():
    m = hl.Hallucinator(encoder(), augment="digits")
    assert isinstance(m.base, SimCLR) and m.base.augment == "digits"


def test_bad_arguments():
    with pytest.raises(TypeError, match="SimCLR"):
        hl.Hallucinator(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="weight"):
        tiny(weight=1.5)


def test_hardness_reports_mean_cosines():
    k = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # identical directions: cos 1
    h = torch.tensor([[0.0, 1.0], [0.0, -3.0]])  # orthogonal, opposite: cos 0, -1
    s = hl.hardness(q, k, h)
    assert s["cos_qk"] == pytest.approx(1.0)
    assert s["cos_hk"] == pytest.approx(-0.5)
    assert s["cos_hq"] == pytest.approx(-0.5)


def test_a_few_steps_lower_the_loss():
    data = ck.make_shapes(64, image_size=8, seed=0)
    for base in ("simclr", "simsiam"):
        m = tiny(base)
        hist = ck.fit(m, data.x, steps=30, batch_size=32, lr=3e-3, progress=False)
        assert np.mean(hist.loss[-3:]) < hist.loss[0]
