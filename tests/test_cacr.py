"""CACR: the loss against a float64 loop reference, its stability and input checks; the method
learns; the weight and long-tail helpers behind the notebook."""

import itertools
import math

import pytest
import torch

import contrastkit as ck
from contrastkit.losses import cacr_loss
from contrastkit.methods import cacr as cm


def reference(views, tau_pos, tau_neg):
    """A loop over anchors, after JegZheng/CACR-SSL's our_loss1 / our_loss2 (all view pairs)."""
    z = [torch.nn.functional.normalize(v.double(), dim=1) for v in views]
    m, n = len(z), z[0].shape[0]
    attraction, repulsion, count = 0.0, 0.0, 0
    for a in range(m):
        for i in range(n):
            pos = torch.stack([(z[a][i] - z[b][i]).pow(2).sum() for b in range(m) if b != a])
            w = torch.softmax(tau_pos * pos, dim=0)
            attraction += float((w * pos).sum())
    for a, b in itertools.permutations(range(m), 2):
        for i in range(n):
            neg = torch.stack([(z[a][i] - z[b][j]).pow(2).sum() for j in range(n) if j != i])
            w = torch.softmax(-tau_neg * neg, dim=0)
            repulsion -= float((w * neg).sum())
            count += 1
    return attraction / (m * n) + repulsion / count


@pytest.mark.parametrize("m,n,d", [(2, 2, 3), (2, 6, 8), (3, 5, 4), (4, 7, 16)])
@pytest.mark.parametrize("tau_pos,tau_neg", [(1.0, 0.9), (0.0, 0.0), (5.0, 2.0)])
def test_matches_float64_reference(m, n, d, tau_pos, tau_neg):
    g = torch.Generator().manual_seed(m * 100 + n * 10 + d)
    z = torch.randn(m, n, d, generator=g, dtype=torch.float64)
    got = cacr_loss(z, tau_pos, tau_neg)
    assert float(got) == pytest.approx(reference(list(z), tau_pos, tau_neg), abs=1e-5)
    # a list of views is the same as the stacked tensor
    assert torch.allclose(cacr_loss(list(z), tau_pos, tau_neg), got)


def test_uniform_weights_are_plain_means():
    z = torch.nn.functional.normalize(
        torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0)), dim=2
    )
    align = (z[0] - z[1]).pow(2).sum(1).mean()
    d = torch.cdist(z[0], z[1]).pow(2)
    off = ~torch.eye(5, dtype=torch.bool)
    assert float(cacr_loss(z, 0.0, 0.0)) == pytest.approx(float(align - d[off].mean()), abs=1e-5)


def test_invariant_to_view_order_and_batch_permutation():
    z = torch.randn(4, 9, 6, generator=torch.Generator().manual_seed(1))
    base = cacr_loss(z)
    assert torch.allclose(cacr_loss(z[[2, 0, 3, 1]]), base, atol=1e-6)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(cacr_loss(z[:, perm]), base, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("tau", [0.01, 1.0, 100.0])
def test_stable_at_extreme_sharpness(dtype, tau):
    z = torch.randn(4, 32, 16, generator=torch.Generator().manual_seed(3))
    z = z.to(dtype).requires_grad_(True)
    loss = cacr_loss(z, tau_pos=tau, tau_neg=tau)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss)
    assert torch.isfinite(z.grad).all()
    exact = reference(list(z.detach().double()), tau, tau)
    assert float(loss.detach()) == pytest.approx(
        exact, abs=0.03 if dtype == torch.bfloat16 else 1e-4
    )
    assert -4 <= float(loss.detach()) <= 4


def test_bad_inputs_name_the_argument():
    z = torch.randn(4, 8, 5)
    with pytest.raises(ValueError, match="tau_pos"):
        cacr_loss(z, tau_pos=-1.0)
    with pytest.raises(ValueError, match="tau_neg"):
        cacr_loss(z, tau_neg=float("nan"))
    with pytest.raises(ValueError, match="tau_neg"):
        cacr_loss(z, tau_neg=float("inf"))
    with pytest.raises(ValueError, match="views"):
        cacr_loss(z[:1])  # one view: no positives
    with pytest.raises(ValueError, match="views"):
        cacr_loss(z[:, :1])  # one item: no negatives
    with pytest.raises(ValueError, match="views"):
        cacr_loss(torch.randn(8, 5))
    with pytest.raises(ValueError, match=r"views\[1\]"):
        cacr_loss([torch.randn(8, 5), torch.randn(7, 5)])
    with pytest.raises(TypeError, match="views"):
        cacr_loss(torch.ones(2, 4, 3, dtype=torch.long))


def test_attraction_favours_the_far_positive_and_repulsion_the_close_negative():
    anchor = torch.tensor([1.0, 0.0])
    others = torch.tensor([[1.0, 0.1], [0.0, 1.0], [-1.0, 0.2]])  # near, orthogonal, opposite
    w_pos = cm.attraction_weights(anchor, others, tau_pos=1.0)
    w_neg = cm.repulsion_weights(anchor, others, tau_neg=1.0)
    assert int(w_pos.argmax()) == 2 and int(w_neg.argmax()) == 0
    assert float(w_pos.sum()) == pytest.approx(1.0) and float(w_neg.sum()) == pytest.approx(1.0)
    assert cm.entropy(cm.repulsion_weights(anchor, others, 0.0)) == pytest.approx(math.log(3))
    entropies = [cm.entropy(cm.repulsion_weights(anchor, others, t)) for t in (0.5, 1, 2, 4)]
    assert all(a > b for a, b in zip(entropies, entropies[1:]))


def test_long_tailed_profile():
    y = torch.arange(2000) % 10  # 200 per class
    idx = cm.long_tailed(y, imbalance=10, seed=0)
    counts = torch.bincount(y[idx], minlength=10)
    assert counts[0] == 200 and counts[-1] == 20
    assert (counts[:-1] >= counts[1:]).all()
    assert torch.equal(idx, cm.long_tailed(y, 10, seed=0)) and len(idx.unique()) == len(idx)
    assert len(cm.long_tailed(y, 1.0)) == 2000
    with pytest.raises(ValueError, match="imbalance"):
        cm.long_tailed(y, 0.5)


def test_checks_views():
    with pytest.raises(ValueError, match="n_views"):
        cm.CACR(ck.models.SmallConvNet(widths=(8,)), n_views=1)


def test_a_few_steps_reduce_the_loss():
    ck.seed_everything(0)
    model = cm.CACR(ck.models.SmallConvNet(widths=(8, 16)), proj_dim=16, n_views=4)
    x = ck.make_shapes(256, image_size=16, seed=0, background="plain").x
    hist = ck.fit(model, x, steps=40, batch_size=32, lr=3e-3, progress=False)
    first, last = sum(hist.loss[:2]) / 2, sum(hist.loss[-2:]) / 2
    assert last < first - 0.1
    assert ck.embed(model, x[:10]).shape == (10, 16)
