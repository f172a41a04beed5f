"""GPC and contrastkit.mixtures: Hungarian accuracy, the Normal-Gamma marginal likelihood
(chain rule in float64), split and merge on blobs, the K estimate behind the notebook's slider,
semi-supervised k-means, the prototypical logits and the method's loss."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit import mixtures
from contrastkit.methods import gpc
from contrastkit.metrics import cluster_accuracy


def _blobs(centres, n=60, std=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.tensor(c) + std * torch.randn(n, len(c), generator=g) for c in centres])
    y = torch.arange(len(centres)).repeat_interleave(n)
    return x.float(), y


def test_cluster_accuracy_permutation_and_extra_clusters():  # metrics.cluster_accuracy
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy(y, torch.tensor([2, 2, 0, 0, 1, 1]))[0] == 1.0
    # four clusters for three classes: the unmatched cluster's point counts as an error
    acc, mapping = cluster_accuracy(y, torch.tensor([5, 5, 7, 7, 1, 3]))
    assert acc == pytest.approx(5 / 6)
    assert mapping[5] == 0 and mapping[7] == 1
    with pytest.raises(ValueError):
        cluster_accuracy(y, torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        cluster_accuracy(y, -torch.ones(6, dtype=torch.long))


def test_gcd_accuracy_old_new():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 0, 1, 1, 1, 1])  # novel class 2 merged into class 1's cluster
    res = gpc.gcd_accuracy(y, pred, known=y < 2)
    assert res["old"] == 1.0 and res["new"] == 0.0 and res["all"] == pytest.approx(4 / 6)


def _prior(d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "mu0": torch.randn(d, generator=g, dtype=torch.float64),
        "kappa0": 0.7,
        "alpha0": 1.3,
        "beta0": 0.5 + torch.rand(d, generator=g, dtype=torch.float64),
    }


@pytest.mark.parametrize("d", [1, 3])
def test_log_marginal_chain_rule(d):
    """log L(x1, x2) = log L(x1) + log p(x2 | x1): the posterior after x1 is a Normal-Gamma with
    the textbook updates, so the marginal must factorise (float64 reference)."""
    p = _prior(d)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, d, generator=g, dtype=torch.float64)
    x1 = x[0]
    k1 = p["kappa0"] + 1
    post = {
        "mu0": (p["kappa0"] * p["mu0"] + x1) / k1,
        "kappa0": k1,
        "alpha0": p["alpha0"] + 0.5,
        "beta0": p["beta0"] + p["kappa0"] * (x1 - p["mu0"]) ** 2 / (2 * k1),
    }
    joint = mixtures.log_marginal(x, **p)
    chained = mixtures.log_marginal(x[:1], **p) + mixtures.log_marginal(x[1:], **post)
    assert float(joint) == pytest.approx(float(chained), abs=1e-9)


def test_log_marginal_single_point_is_student_t():
    """One point in 1-D: the marginal is a Student-t with 2*alpha0 degrees of freedom."""
    from scipy import stats

    p = {
        "mu0": torch.tensor([0.3], dtype=torch.float64),
        "kappa0": 2.0,
        "alpha0": 1.5,
        "beta0": torch.tensor([0.8], dtype=torch.float64),
    }
    x = torch.tensor([[1.1]], dtype=torch.float64)
    scale = math.sqrt(0.8 * (2.0 + 1) / (1.5 * 2.0))
    ref = stats.t.logpdf(1.1, df=3.0, loc=0.3, scale=scale)
    assert float(mixtures.log_marginal(x, **p)) == pytest.approx(ref, abs=1e-9)


def test_split_merge_on_blobs():
    """One labelled class plus two novel blobs that start in a single component: the novel
    component splits; two components over one blob merge."""
    x, y = _blobs([(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)])
    y_in = torch.where(y == 0, y, torch.full_like(y, -1))
    k, per_round, labels = mixtures.estimate_k(x, y_in, 2, prior_scale=1.0)
    assert k == 3 and per_round[0] == 2
    assert cluster_accuracy(y, labels)[0] > 0.95
    k_hi, _, _ = mixtures.estimate_k(x, y_in, 8, prior_scale=1.0)
    assert k_hi == 3
    # labelled points keep their class whatever happens
    assert (labels[y_in >= 0] == y_in[y_in >= 0]).all()


def test_prior_scale_sets_granularity():
    x, y = _blobs([(0.0, 0.0), (4.0, 0.0), (0.0, 4.0), (1.5, 1.5)], std=0.5)
    y_in = torch.where(y == 0, y, torch.full_like(y, -1))
    k_small, _, _ = mixtures.estimate_k(x, y_in, 6, prior_scale=0.25)
    k_large, _, _ = mixtures.estimate_k(x, y_in, 6, prior_scale=64.0)
    assert k_large <= k_small


def test_calibrate_prior_scale_uses_labelled_only():
    x, y = _blobs([(0.0, 0.0), (4.0, 0.0), (0.0, 4.0), (4.0, 4.0)])
    y_in = torch.where(y < 2, y, torch.full_like(y, -1))
    scale, found = mixtures.calibrate_prior_scale(x, y_in, scales=(1.0, 4.0))
    assert scale in (1.0, 4.0) and set(found) == {1.0, 4.0}
    # changing the unlabelled points does not change the choice
    x2 = x.clone()
    x2[y_in < 0] += 10
    assert mixtures.calibrate_prior_scale(x2, y_in, scales=(1.0, 4.0)) == (scale, found)


def test_fit_semi_gmm_rejects_bad_k():
    x, y = _blobs([(0.0, 0.0), (4.0, 0.0)])
    with pytest.raises(ValueError, match="k_init"):
        mixtures.fit_semi_gmm(x, y, n_known=2, k_init=2)


def test_ss_kmeans_pins_labels():
    x, y = _blobs([(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)])
    y_in = torch.where((y == 0) & (torch.arange(len(y)) % 2 == 0), y, torch.full_like(y, -1))
    pred = mixtures.ss_kmeans(x, y_in, 3)
    assert (pred[y_in >= 0] == 0).all()
    assert cluster_accuracy(y, pred)[0] > 0.95
    with pytest.raises(ValueError):
        mixtures.ss_kmeans(x, y_in, 1)


def test_prototypes_and_logits():
    z = torch.randn(30, 8)
    labels = torch.arange(3).repeat(10)
    mu, phi = gpc.prototypes_from(z, labels, tau=0.2)
    assert mu.shape == (3, 8) and phi.shape == (3,)
    assert torch.allclose(mu.norm(dim=1), torch.ones(3))
    assert float(phi.mean()) == pytest.approx(0.2, rel=1e-5)
    logits = gpc.proto_logits(z, mu, phi)
    assert logits.shape == (30, 3) and torch.isfinite(logits).all()


def test_pca_features_shape_and_determinism():
    f = torch.randn(50, 12)
    a, b = mixtures.pca_features(f, 4), mixtures.pca_features(f, 4)
    assert a.shape == (50, 4) and torch.equal(a, b)


def test_method_loss_and_training():
    data = ck.load_digits()
    x, y = data.x[:256], data.y[:256]
    y_in = torch.where(y < 5, y, torch.full_like(y, -1))
    ck.seed_everything(0)
    model = gpc.GPC(ck.models.MLP(64, (32,), 16), proj_dim=8, augment="digits")
    with pytest.raises(TypeError):
        model.loss(x)
    batch = (x, y_in, torch.arange(256))
    base = model.loss(batch)
    assert torch.isfinite(base)
    with torch.no_grad():
        z = model.project(x)
    model.set_clusters(torch.where(y_in >= 0, y_in, 5 + y % 2), z)
    assert model.prototypes.shape == (7, 8)
    with_proto = model.loss(batch)
    assert torch.isfinite(with_proto)
    hist = ck.fit(model, batch, steps=30, batch_size=128, lr=2e-3, progress=False)
    assert hist.loss[-1] < hist.loss[0]


def test_mixture_names_stay_importable_from_gpc():
    for name in ("fit_semi_gmm", "estimate_k", "log_marginal", "split_merge", "ss_kmeans"):
        assert getattr(gpc, name) is getattr(mixtures, name)
