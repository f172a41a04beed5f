"""cMIM: the A-MIM loss (float64 reference, stability, bad input), the model, the read-outs."""

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.losses import mim_loss
from contrastkit.methods import cmim as cm


def reference_mim(x, x_rec, z, mu, sigma, s):
    """A loop in float64 NumPy: -1/2 [log p(x|z) + log N(z;0,I) + log q(z|x)], batch mean."""
    total = 0.0
    for i in range(x.shape[0]):
        lp = sum(
            -0.5 * ((x[i, j] - x_rec[i, j]) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
            for j in range(x.shape[1])
        )
        lz = sum(-0.5 * z[i, k] ** 2 - 0.5 * math.log(2 * math.pi) for k in range(z.shape[1]))
        lq = sum(
            -0.5 * ((z[i, k] - mu[i, k]) / sigma[i, k]) ** 2
            - math.log(sigma[i, k])
            - 0.5 * math.log(2 * math.pi)
            for k in range(z.shape[1])
        )
        total += -0.5 * (lp + lz + lq)
    return total / x.shape[0]


def sample(n, p, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x, x_rec = torch.rand(n, p, generator=g), torch.rand(n, p, generator=g)
    mu, sigma = torch.randn(n, d, generator=g), 0.05 + torch.rand(n, d, generator=g)
    z = mu + sigma * torch.randn(n, d, generator=g)
    return tuple(t.to(dtype) for t in (x, x_rec, z, mu, sigma))


@pytest.mark.parametrize(("n", "p", "d", "s"), [(1, 3, 2, 0.1), (4, 8, 3, 0.5), (7, 5, 6, 1.0)])
def test_mim_loss_matches_float64_reference(n, p, d, s):
    args = sample(n, p, d, seed=n + p)
    got = mim_loss(*args, pixel_std=s)
    assert got.dtype == torch.float64
    want = reference_mim(*(a.numpy() for a in args), s)
    np.testing.assert_allclose(float(got), want, rtol=1e-10)


def test_mim_loss_permutation_invariant_and_rewards_a_peaked_posterior():
    x, x_rec, z, mu, sigma = sample(6, 8, 3, seed=0)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    a = mim_loss(x, x_rec, z, mu, sigma)
    b = mim_loss(x[perm], x_rec[perm], z[perm], mu[perm], sigma[perm])
    assert torch.allclose(a, b)
    # at z = mu, a smaller sigma means a larger log q: A-MIM's loss goes down (the ELBO's: up)
    assert mim_loss(x, x_rec, mu, mu, sigma / 2) < mim_loss(x, x_rec, mu, mu, sigma)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_mim_loss_finite_for_tiny_sigma_and_low_precision(dtype):
    x, x_rec, z, mu, sigma = sample(16, 64, 16, seed=3, dtype=dtype)
    tiny = torch.full_like(sigma, 1e-4)
    z_t = (mu.float() + tiny.float() * torch.randn(16, 16)).to(dtype)
    out = mim_loss(x, x_rec, z_t, mu, tiny, pixel_std=0.01)
    assert out.dtype == dtype and torch.isfinite(out)
    # gradients reach every input and are finite
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, x_rec, z, mu, sigma)]
    mim_loss(*leaves, pixel_std=0.01).backward()
    assert all(t.grad is not None and torch.isfinite(t.grad.float()).all() for t in leaves[1:])


def test_mim_loss_bad_input_names_the_argument():
    x, x_rec, z, mu, sigma = sample(4, 8, 3, seed=0, dtype=torch.float32)
    with pytest.raises(ValueError, match="x_rec"):
        mim_loss(x, x_rec[:, :5], z, mu, sigma)
    with pytest.raises(ValueError, match="sigma"):
        mim_loss(x, x_rec, z, mu, sigma[:, :2])
    with pytest.raises(ValueError, match="rows"):
        mim_loss(x, x_rec, z[:3], mu[:3], sigma[:3])
    with pytest.raises(ValueError, match="pixel_std"):
        mim_loss(x, x_rec, z, mu, sigma, pixel_std=0.0)
    with pytest.raises((TypeError, ValueError), match="x"):
        mim_loss(x.long(), x_rec, z, mu, sigma)


def test_model_terms_shapes_and_weight_zero_is_mim():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 8, 8)
    mim = cm.CMIM(64, latent=4, hidden=16, weight=0.0)
    t = mim.terms(x)
    assert float(t["contrastive"]) == 0.0 and torch.equal(t["loss"], t["mim"])
    c = cm.CMIM(64, latent=4, hidden=16, weight=2.0)
    t = c.terms(x)
    assert torch.allclose(t["loss"], t["mim"] + 2.0 * t["contrastive"])
    mu, sigma = c.posterior(x.flatten(1))
    assert mu.shape == sigma.shape == (8, 4) and (sigma >= c.sigma_min).all()
    assert c.embed(x).shape == (8, 4) and c.informative(x).shape == (8, 20)
    with pytest.raises(ValueError, match="weight"):
        cm.CMIM(64, weight=-1.0)


def test_readout_parts_and_purity():
    torch.manual_seed(0)
    m = cm.CMIM(64, latent=4, hidden=16)
    x = torch.rand(5, 1, 8, 8)
    code = cm.readout(m, x, ("code",))
    dec = cm.readout(m, x, ["decoder"])
    both = cm.readout(m, x, ("code", "decoder"))
    assert torch.equal(both, torch.cat([code, dec], 1)) and torch.equal(code, m.embed(x))
    assert torch.equal(both, cm.readout(m, x, ("code", "decoder")))  # deterministic
    assert m.training  # mode restored
    with pytest.raises(ValueError, match="parts"):
        cm.readout(m, x, ("pixels",))
    with pytest.raises(ValueError, match="parts"):
        cm.readout(m, x, ())


def test_trains_a_few_steps():
    data = ck.load_digits()
    torch.manual_seed(0)
    m = cm.CMIM(64, latent=8, hidden=64, weight=1.0)
    hist = ck.fit(m, data.x, steps=100, batch_size=64, lr=2e-3, seed=0, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    assert hist.loss[-1] < hist.loss[0] - 10  # nats per image: reconstruction improves fast
