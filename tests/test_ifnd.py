"""IFND: the acceptance schedule, pseudo-labels from the shared k-means, the false-negative mask
and loss, the detection-quality counts, and a short training run that re-clusters."""

import math

import pytest
import torch
import torch.nn.functional as F

import contrastkit as ck
from contrastkit.methods import ifnd as fm


def test_accepted_fraction_grows_from_zero_to_final():
    values = [fm.accepted_fraction(s, 100, final=0.8) for s in range(0, 101, 10)]
    assert values[0] == 0.0 and values[-1] == pytest.approx(0.8)
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert fm.accepted_fraction(20, 100, start=0.5) == 0.0
    assert fm.accepted_fraction(75, 100, start=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="final"):
        fm.accepted_fraction(0, 100, final=1.5)
    with pytest.raises(ValueError, match="total"):
        fm.accepted_fraction(0, 0)


def _blobs(n_per=30, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(k, 8, generator=g), dim=1) * 5
    z = torch.cat([c + 0.3 * torch.randn(n_per, 8, generator=g) for c in centres])
    return z, torch.arange(k).repeat_interleave(n_per)


def test_pseudo_labels_keep_the_most_confident_fraction():
    z, y = _blobs()
    labels = fm.pseudo_labels(z, 3, fraction=0.5, seed=0)
    assert int((labels >= 0).sum()) == 45 and set(labels.tolist()) <= {-1, 0, 1, 2}
    full = fm.pseudo_labels(z, 3, fraction=1.0, seed=0)
    assert (full >= 0).all()
    # well-separated blobs: every detected pair is a true same-class pair
    q = fm.detection_quality(full, y)
    assert q["precision"] == pytest.approx(1.0) and q["recall"] == pytest.approx(1.0)
    assert (fm.pseudo_labels(z, 3, fraction=0.0) == -1).all()
    with pytest.raises(ValueError, match="fraction"):
        fm.pseudo_labels(z, 3, fraction=2.0)


def test_false_negative_mask():
    labels = torch.tensor([0, 0, -1, 1, 0, -1])
    m = fm.false_negative_mask(labels)
    assert m[0, 1] and m[1, 4] and m[4, 0] and not m[0, 0]
    assert not m[2, 5] and not m[0, 3] and not m[:, 2].any()
    assert torch.equal(m, m.T)


def test_detection_quality_counts_pairs():
    truth = torch.tensor([0, 0, 0, 1, 1, 1])
    labels = torch.tensor([5, 5, 7, 7, 7, -1])
    q = fm.detection_quality(labels, truth)
    # detected ordered pairs: cluster 5 -> 2, cluster 7 -> 6 (of which pair (3, 4) twice right)
    assert q["precision"] == pytest.approx((2 + 2) / 8)
    assert q["recall"] == pytest.approx(4 / 12)
    assert q["accepted"] == pytest.approx(5 / 6)
    assert q["chance"] == pytest.approx(12 / 30)
    assert math.isnan(fm.detection_quality(torch.full((6,), -1), truth)["precision"])


def test_loss_without_labels_is_nt_xent_and_elimination_lowers_it():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    none = torch.full((8,), -1)
    assert torch.allclose(fm.nt_xent_without(z1, z2, none, 0.5), ck.nt_xent(z1, z2, 0.5))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, -1, -1])
    dropped = fm.nt_xent_without(z1, z2, labels, 0.5)
    assert dropped < ck.nt_xent(z1, z2, 0.5)  # fewer terms in every affected denominator
    # float64 reference: anchor 0 loses images 1 (both views) from its candidates
    z = F.normalize(torch.cat([z1, z2]).double(), dim=1)
    s = z @ z.T / 0.5
    keep = [k for k in range(16) if k not in (0, 1, 9)]
    ref0 = -(s[0, 8] - torch.logsumexp(s[0, keep], 0))
    fn = fm.false_negative_mask(labels).repeat(2, 2) | torch.eye(16, dtype=torch.bool)
    per = F.cross_entropy(
        (z @ z.T / 0.5).float().masked_fill(fn, float("-inf")),
        torch.cat([torch.arange(8, 16), torch.arange(8)]),
        reduction="none",
    )
    assert float(per[0]) == pytest.approx(float(ref0), abs=1e-5)


def test_stable_at_small_temperature():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(16, 8, generator=g, requires_grad=True)
    z2 = torch.randn(16, 8, generator=g)
    labels = torch.arange(16) % 4
    loss = fm.nt_xent_without(z1, z2, labels, 0.01)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()


def test_needs_indices_and_checks_arguments():
    x = ck.make_shapes(64, image_size=16, seed=0, background="plain").x
    enc = ck.models.SmallConvNet(widths=(8, 16))
    with pytest.raises(ValueError, match="mode"):
        fm.IFND(enc, x, steps=10, mode="both")
    with pytest.raises(ValueError, match="recluster_every"):
        fm.IFND(enc, x, steps=10, recluster_every=0)
    with pytest.raises(TypeError, match="index"):
        fm.IFND(enc, x, steps=10).loss(x[:8])


@pytest.mark.parametrize("mode", ["eliminate", "attract"])
def test_training_reclusters_and_logs_detection(mode):
    data = ck.make_shapes(256, image_size=16, seed=0, background="plain")
    ck.seed_everything(0)
    model = fm.IFND(
        ck.models.SmallConvNet(widths=(8, 16)),
        data.x,
        steps=30,
        n_clusters=5,
        recluster_every=10,
        mode=mode,
        truth=data.y,
        proj_dim=16,
    )
    hist = ck.fit(model, (data.x, torch.arange(256)), steps=30, batch_size=64, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    assert [e["step"] for e in model.log] == [10, 20]
    fractions = [e["accepted"] for e in model.log]
    assert fractions[0] < fractions[1] <= 1.0
    assert (model.labels >= 0).float().mean() == pytest.approx(fractions[-1], abs=0.01)


def test_project_keeps_modes():
    x = ck.make_shapes(16, image_size=16, seed=0, background="plain").x
    model = fm.IFND(ck.models.SmallConvNet(widths=(8, 16)), x, steps=10, proj_dim=8)
    model.train()
    assert model.project(x).shape == (16, 8) and model.training and model.encoder.training
