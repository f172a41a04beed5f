"""Barlow Twins and VICReg: the losses against float64 loop references, and the method.

Conventions, compared with lightly's versions (``lightly.loss.BarlowTwinsLoss`` and
``lightly.loss.VICRegLoss``):

* ``barlow_twins_loss`` standardises each dimension along the batch, as lightly's does, and
  the default ``lambda_param`` is lightly's (and the paper's) 5e-3. The standard deviation is
  BatchNorm's (biased, over N, with ``eps=1e-5`` inside the square root, like the paper's
  ``BatchNorm1d(affine=False)``); lightly divides by torch's unbiased ``std`` (N - 1) with no
  eps, so its matrix is ours times (N - 1) / N (checked below). The method's default lambda is
  5e-3 too; the notebook passes 1 / D.
* ``vicreg_loss`` matches lightly's VICRegLoss term by term: weights 25 / 25 / 1, invariance a
  mean squared error, variance ``0.5 * (v(z1) + v(z2))`` with the unbiased variance and
  ``eps=1e-4`` inside the square root, covariance ``c(z1) + c(z2)`` (unbiased covariance,
  off-diagonal squares summed and divided by D). The paper's equation writes
  ``mu [v(Z) + v(Z')]``, without the 1/2; its reference code halves it, as here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.losses import (
    barlow_twins_loss,
    barlow_twins_terms,
    cross_correlation,
    vicreg_loss,
    vicreg_terms,
)
from contrastkit.methods import barlow_vicreg as bv

SIZES = [(2, 1), (2, 4), (5, 3), (16, 8), (33, 5)]  # (N, D)

# ----------------------------------------------------------------- float64 references


def ref_barlow(a: np.ndarray, b: np.ndarray, lam: float, eps: float = 1e-5) -> float:
    """Barlow Twins with explicit loops over dimensions and samples."""
    n, d = a.shape

    def standardise(x):
        out = np.empty_like(x)
        for j in range(d):
            mean = sum(x[k, j] for k in range(n)) / n
            var = sum((x[k, j] - mean) ** 2 for k in range(n)) / n
            for k in range(n):
                out[k, j] = (x[k, j] - mean) / math.sqrt(var + eps)
        return out

    sa, sb = standardise(a), standardise(b)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(sa[k, i] * sb[k, j] for k in range(n)) / n
            loss += (1 - c) ** 2 if i == j else lam * c**2
    return loss


def ref_vicreg(a, b, w_inv=25.0, w_var=25.0, w_cov=1.0, gamma=1.0, eps=1e-4) -> float:
    """VICReg with explicit loops."""
    n, d = a.shape
    inv = sum((a[k, j] - b[k, j]) ** 2 for k in range(n) for j in range(d)) / (n * d)

    def var_cov(x):
        mean = [sum(x[k, j] for k in range(n)) / n for j in range(d)]
        cov = [
            [sum((x[k, i] - mean[i]) * (x[k, j] - mean[j]) for k in range(n)) / (n - 1)
             for j in range(d)]
            for i in range(d)
        ]  # fmt: skip
        v = sum(max(0.0, gamma - math.sqrt(cov[j][j] + eps)) for j in range(d)) / d
        c = sum(cov[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d
        return v, c

    (va, ca), (vb, cb) = var_cov(a), var_cov(b)
    return w_inv * inv + w_var * 0.5 * (va + vb) + w_cov * (ca + cb)


def pair(n, d, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = 0.6 * a + 0.8 * torch.randn(n, d, generator=g, dtype=torch.float64)  # correlated views
    return a.to(dtype), b.to(dtype)


# ---------------------------------------------------------------------- Barlow Twins


@pytest.mark.parametrize(("n", "d"), SIZES)
@pytest.mark.parametrize("lam", [0.0, 5e-3, 0.25])
def test_barlow_matches_the_loop_reference(n, d, lam):
    a, b = pair(n, d, seed=n * 10 + d)
    got = barlow_twins_loss(a, b, lambda_param=lam)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(ref_barlow(a.numpy(), b.numpy(), lam), rel=1e-10)


def test_barlow_terms_add_up_and_the_diagonal_is_the_invariance():
    a, b = pair(16, 6)
    t = barlow_twins_terms(a, b)
    c = cross_correlation(a, b)
    assert float(t["invariance"]) == pytest.approx(float(((1 - c.diagonal()) ** 2).sum()))
    off = c - torch.diag(c.diagonal())
    assert float(t["redundancy"]) == pytest.approx(float((off**2).sum()))
    lam = 0.03
    total = barlow_twins_loss(a, b, lambda_param=lam)
    assert float(total) == pytest.approx(float(t["invariance"] + lam * t["redundancy"]))


def test_cross_correlation_is_a_correlation_and_lightly_differs_by_n_over_n_minus_1():
    a, b = pair(12, 5)
    c = cross_correlation(a, b, eps=0.0)
    # the diagonal of corr(a, a) is exactly 1, every entry in [-1, 1]
    assert torch.allclose(cross_correlation(a, a, eps=0.0).diagonal(), torch.ones(5, dtype=a.dtype))
    assert c.abs().max() <= 1 + 1e-12
    np.testing.assert_allclose(c.numpy()[0, 1], np.corrcoef(a[:, 0], b[:, 1])[0, 1], rtol=1e-10)
    # lightly's convention: divide by the unbiased std (N - 1), no eps
    n = a.shape[0]
    lightly = ((a - a.mean(0)) / a.std(0)).T @ ((b - b.mean(0)) / b.std(0)) / n
    torch.testing.assert_close(lightly, c * (n - 1) / n)


def test_barlow_is_symmetric_and_batch_permutation_invariant():
    a, b = pair(20, 7)
    loss = barlow_twins_loss(a, b, 0.1)
    torch.testing.assert_close(barlow_twins_loss(b, a, 0.1), loss)  # C -> C^T
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(barlow_twins_loss(a[perm], b[perm], 0.1), loss)


def test_barlow_invariant_to_each_dimensions_scale_and_shift():
    # standardisation removes any per-dimension affine map (positive scale)
    a, b = pair(16, 4)
    scale, shift = torch.tensor([0.1, 2.0, 30.0, 1.0]), torch.tensor([5.0, -1.0, 0.0, 100.0])
    torch.testing.assert_close(
        barlow_twins_loss(a * scale + shift, b, 0.05, eps=0.0),
        barlow_twins_loss(a, b, 0.05, eps=0.0),
    )


def test_barlow_optimum_and_collapse():
    # identical, decorrelated views: C = I, the minimum 0
    g = torch.Generator().manual_seed(0)
    r = torch.randn(64, 8, generator=g, dtype=torch.float64)
    z, _ = torch.linalg.qr(r - r.mean(0))  # centred, orthonormal columns
    assert float(barlow_twins_loss(z, z, 1.0, eps=0.0)) == pytest.approx(0.0, abs=1e-20)
    # a constant embedding: every correlation 0, invariance D, and no NaN
    const = torch.ones(32, 8)
    assert float(barlow_twins_loss(const, const)) == pytest.approx(8.0)
    # every dimension the same feature: invariance solved, redundancy maximal
    f = torch.randn(32, 1, generator=g).repeat(1, 8)
    t = barlow_twins_terms(f, f)
    assert float(t["invariance"]) == pytest.approx(0.0, abs=1e-4)
    assert float(t["redundancy"]) == pytest.approx(8 * 7, rel=1e-3)


# ---------------------------------------------------------------------------- VICReg


@pytest.mark.parametrize(("n", "d"), SIZES)
@pytest.mark.parametrize(
    "weights", [(25.0, 25.0, 1.0), (25.0, 0.0, 1.0), (1.0, 25.0, 0.0), (0.0, 1.0, 1.0)]
)
def test_vicreg_matches_the_loop_reference(n, d, weights):
    a, b = pair(n, d, seed=n * 10 + d)
    a = 0.3 * a  # some stds below gamma = 1, so the hinge is active on some dimensions
    got = vicreg_loss(a, b, *weights)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(ref_vicreg(a.numpy(), b.numpy(), *weights), rel=1e-10)


def test_vicreg_gamma_and_terms():
    a, b = pair(10, 4)
    got = vicreg_loss(a, b, 2.0, 3.0, 0.5, gamma=1.7)
    assert float(got) == pytest.approx(ref_vicreg(a.numpy(), b.numpy(), 2.0, 3.0, 0.5, 1.7))
    t = vicreg_terms(a, b)
    total = 25 * t["invariance"] + 25 * t["variance"] + t["covariance"]
    torch.testing.assert_close(vicreg_loss(a, b), total)


def test_vicreg_is_symmetric_and_batch_permutation_invariant():
    a, b = pair(20, 7)
    loss = vicreg_loss(a, b)
    torch.testing.assert_close(vicreg_loss(b, a), loss)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(vicreg_loss(a[perm], b[perm]), loss)


def test_without_the_variance_term_a_constant_embedding_is_a_perfect_minimum():
    const = torch.full((16, 8), 0.3)
    # invariance 0, covariance 0: the collapse the variance hinge is there to forbid
    assert float(vicreg_loss(const, const, var_weight=0.0)) == 0.0
    assert float(vicreg_loss(const, const)) == pytest.approx(25 * (1 - math.sqrt(1e-4)))
    # a gradient still flows at the collapsed point (eps keeps the sqrt differentiable)
    z = const.clone().requires_grad_(True)
    vicreg_loss(z, const.clone()).backward()
    assert torch.isfinite(z.grad).all()


# ------------------------------------------------------------- dtypes, gradients, errors


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("loss_fn", [barlow_twins_loss, vicreg_loss])
def test_finite_in_low_precision_with_large_and_constant_columns(dtype, loss_fn):
    a, b = pair(64, 16, dtype=torch.float32)
    a = a * 1e3
    a[:, 0] = 7.0  # a constant column
    a, b = a.to(dtype).requires_grad_(True), b.to(dtype).requires_grad_(True)
    loss = loss_fn(a, b)
    assert loss.dtype == torch.float32  # computed in float32
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(a.grad.float()).all() and torch.isfinite(b.grad.float()).all()
    ref = loss_fn(a.detach().double(), b.detach().double())
    assert float(loss.detach()) == pytest.approx(
        float(ref), rel=2e-2 if dtype == torch.bfloat16 else 1e-4
    )


@pytest.mark.parametrize("loss_fn", [barlow_twins_loss, vicreg_loss])
def test_gradcheck(loss_fn):
    a, b = pair(6, 3)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, y: loss_fn(x, y), (a, b))


@pytest.mark.parametrize("loss_fn", [barlow_twins_loss, vicreg_loss, cross_correlation])
def test_inputs_are_checked_with_the_argument_named(loss_fn):
    a = torch.randn(8, 4)
    with pytest.raises(ValueError, match="z1 and z2 must have the same shape"):
        loss_fn(a, torch.randn(8, 5))
    with pytest.raises(ValueError, match="z1 must have at least 2 row"):
        loss_fn(a[:1], a[:1])
    with pytest.raises(ValueError, match="z2 must be 2-D"):
        loss_fn(a, a[None])
    with pytest.raises(TypeError, match="z1 must be a floating-point"):
        loss_fn(a.long(), a)


def test_weights_are_checked():
    a = torch.randn(8, 4)
    with pytest.raises(ValueError, match="lambda_param"):
        barlow_twins_loss(a, a, lambda_param=-1.0)
    with pytest.raises(ValueError, match="var_weight"):
        vicreg_loss(a, a, var_weight=float("nan"))
    with pytest.raises(TypeError, match="cov_weight"):
        vicreg_loss(a, a, cov_weight="1")
    with pytest.raises(ValueError, match="gamma"):
        vicreg_loss(a, a, gamma=-1.0)


# ------------------------------------------------------------------------ the method


def tiny(variant="barlow", **kwargs):
    torch.manual_seed(0)
    return bv.BarlowVICReg(ck.models.SmallConvNet(widths=(4, 8)), variant, proj_dim=6, **kwargs)


@pytest.fixture
def x():
    return torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("variant", "kwargs", "terms"),
    [
        ("barlow", {}, {"invariance", "redundancy"}),
        ("barlow", {"lambda_param": 0.0}, {"invariance", "redundancy"}),
        ("vicreg", {}, {"invariance", "variance", "covariance"}),
        ("vicreg", {"var_weight": 0.0}, {"invariance", "variance", "covariance"}),
    ],
)
def test_loss_returns_its_terms_and_is_their_weighted_sum(variant, kwargs, terms, x):
    model = tiny(variant, **kwargs)
    loss, parts = model.loss((x, torch.zeros(10, dtype=torch.long)))  # fit's (x, y) batches
    assert set(parts) == terms and all(isinstance(v, float) for v in parts.values())
    assert torch.isfinite(loss)
    expected = sum(model.weights[k] * v for k, v in parts.items())
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert model.embed(x).shape == (10, 8)
    assert model.project(x).shape == (10, 6)


def test_loss_is_the_library_loss_on_the_projections(x):
    for variant, fn, kwargs in [
        ("barlow", barlow_twins_loss, {"lambda_param": 0.05}),
        ("vicreg", vicreg_loss, {"inv_weight": 1.0, "var_weight": 2.0, "cov_weight": 3.0}),
    ]:
        model = tiny(variant, **kwargs)
        torch.manual_seed(5)
        z1, z2 = model.two_views(x)
        torch.manual_seed(5)
        loss, _ = model.loss(x)
        torch.testing.assert_close(loss, fn(z1, z2, *kwargs.values()))


def test_defaults_and_argument_errors():
    assert tiny().weights == {"invariance": 1.0, "redundancy": 5e-3}
    assert tiny("vicreg").weights == {"invariance": 25.0, "variance": 25.0, "covariance": 1.0}
    assert tiny(hidden=5).projector[0].out_features == 5
    with pytest.raises(ValueError, match="variant"):
        tiny("simclr")
    with pytest.raises(ValueError, match="VICReg's"):
        tiny("barlow", var_weight=0.0)
    with pytest.raises(ValueError, match="Barlow Twins'"):
        tiny("vicreg", lambda_param=0.01)
    with pytest.raises(ValueError, match="variance weight"):
        tiny("vicreg", var_weight=-1.0)


@pytest.mark.parametrize("variant", ["barlow", "vicreg"])
def test_a_few_steps_lower_the_loss(variant):
    torch.manual_seed(0)
    data = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    model = tiny(variant, augment="none")
    hist = ck.fit(model, data, steps=20, batch_size=32, lr=1e-2, progress=False, device="cpu")
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert set(hist.metrics) >= ({"invariance"} if variant == "barlow" else {"variance"})
