"""MLCD: the separated multi-label loss against a float64 loop reference, its stability at
t = 0.01 (float32, bfloat16), bad input; the digit-pair canvases, the offline pseudo-labels, and
the method (multi-label and single-label) learning."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.losses import mlcd_loss
from contrastkit.methods import mlcd


def _reference(z, centres, positives, t):
    """The loss written as the paper's sums, one sample and one centre at a time (float64)."""
    z = torch.nn.functional.normalize(z.double(), dim=1)
    c = torch.nn.functional.normalize(centres.double(), dim=1)
    total = 0.0
    for i in range(z.shape[0]):
        neg = sum(
            math.exp(float(z[i] @ c[j]) / t) for j in range(c.shape[0]) if not positives[i, j]
        )
        pos = sum(math.exp(-float(z[i] @ c[j]) / t) for j in range(c.shape[0]) if positives[i, j])
        total += math.log1p(neg) + math.log1p(pos)
    return total / z.shape[0]


def _inputs(n=6, k=10, d=5, n_pos=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z, centres = torch.randn(n, d, generator=g), torch.randn(k, d, generator=g)
    order = torch.rand(n, k, generator=g).argsort(1)[:, :n_pos]
    positives = torch.zeros(n, k, dtype=torch.bool).scatter_(1, order, True)
    return z, centres, positives


@pytest.mark.parametrize("n,k,d,n_pos", [(1, 4, 3, 1), (6, 10, 5, 3), (9, 16, 8, 5)])
@pytest.mark.parametrize("t", [0.05, 0.1, 1.0])
def test_matches_float64_reference(n, k, d, n_pos, t):
    z, centres, positives = _inputs(n, k, d, n_pos)
    got = mlcd_loss(z.double(), centres.double(), positives, t)
    assert float(got) == pytest.approx(_reference(z, centres, positives, t), rel=1e-10)


def test_permutation_invariance():
    z, centres, positives = _inputs()
    perm_rows, perm_centres = torch.randperm(6), torch.randperm(10)
    a = mlcd_loss(z, centres, positives, 0.1)
    b = mlcd_loss(z[perm_rows], centres[perm_centres], positives[perm_rows][:, perm_centres], 0.1)
    assert torch.allclose(a, b, atol=1e-6)


def test_no_positives_and_all_positives():
    """With no positives only the negative term is left (and vice versa)."""
    z, centres, _ = _inputs()
    none = torch.zeros(6, 10, dtype=torch.bool)
    ref = _reference(z, centres, none, 0.2)
    assert float(mlcd_loss(z, centres, none, 0.2)) == pytest.approx(ref, rel=1e-5)
    assert torch.isfinite(mlcd_loss(z, centres, ~none, 0.2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stable_at_small_temperature(dtype):
    z, centres, positives = _inputs(n=8, k=64, d=16)
    loss = mlcd_loss(z.to(dtype), centres.to(dtype), positives, 0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    ref = _reference(z, centres, positives, 0.01)
    assert float(loss) == pytest.approx(ref, rel=2e-2 if dtype == torch.bfloat16 else 1e-4)
    zz = z.to(dtype).requires_grad_()
    mlcd_loss(zz, centres.to(dtype), positives, 0.01).backward()
    assert torch.isfinite(zz.grad.float()).all()


def test_bad_input():
    z, centres, positives = _inputs()
    with pytest.raises(ValueError, match="temperature"):
        mlcd_loss(z, centres, positives, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        mlcd_loss(z, centres, positives, -1.0)
    with pytest.raises(TypeError, match="bool"):
        mlcd_loss(z, centres, positives.float(), 0.1)
    with pytest.raises(ValueError, match="share D"):
        mlcd_loss(z, centres[:, :3], positives, 0.1)
    with pytest.raises(ValueError, match="positives"):
        mlcd_loss(z, centres, positives[:, :4], 0.1)
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        mlcd_loss(bad, centres, positives, 0.1)
    with pytest.raises((TypeError, ValueError)):
        mlcd_loss(z[0], centres, positives, 0.1)


def test_digit_pairs():
    d = mlcd.digit_pairs(200, seed=0)
    assert d["x_train"].shape == (200, 1, 8, 16) and d["x_test"].shape == (50, 1, 8, 16)
    assert ((d["multi_hot_train"].sum(1) >= 1) & (d["multi_hot_train"].sum(1) <= 2)).all()
    assert d["multi_hot_train"][torch.arange(200), d["left_train"]].eq(1).all()
    again = mlcd.digit_pairs(200, seed=0)
    assert torch.equal(d["x_train"], again["x_train"])
    with pytest.raises(ValueError):
        mlcd.digit_pairs(1)


def test_pseudo_labels():
    x = torch.randn(100, 8)
    centroids, topk = mlcd.pseudo_labels(x, n_clusters=10, k=3, seed=0)
    assert centroids.shape == (10, 8) and topk.shape == (100, 3)
    assert (topk[:, 0] != topk[:, 1]).all()
    with pytest.raises(ValueError):
        mlcd.pseudo_labels(x, n_clusters=10, k=11)


def test_multilabel_map_perfect_and_chance():
    targets = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0]]).float()
    assert mlcd.multilabel_map(targets, targets) == pytest.approx(1.0)


@pytest.mark.parametrize("single", [False, True])
def test_method_learns(single):
    d = mlcd.digit_pairs(256, seed=0)
    x = d["x_train"]
    _, topk = mlcd.pseudo_labels(x.flatten(1), n_clusters=16, k=3, seed=0)
    ck.seed_everything(0)
    model = mlcd.MLCD(ck.models.MLP(128, (64,), 16), n_clusters=16, single_label=single)
    with pytest.raises(RuntimeError):
        model.loss((x, torch.arange(256)))
    model.set_labels(topk)
    with pytest.raises(TypeError):
        model.loss(x)
    hist = ck.fit(model, (x, torch.arange(256)), steps=40, batch_size=128, lr=2e-3, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    assert model.embed(x[:4]).shape == (4, 16)


def test_label_informativeness_grows_with_k():
    d = mlcd.digit_pairs(600, seed=0)
    xtr, xte = d["x_train"].flatten(1), d["x_test"].flatten(1)
    centroids, _ = mlcd.pseudo_labels(xtr, n_clusters=32, k=1, seed=0)
    ind = mlcd.topk_indicators(xtr, centroids, 3)
    assert ind.shape == (600, 32) and (ind.sum(1) == 3).all()
    one = mlcd.label_informativeness(
        xtr, d["multi_hot_train"], xte, d["multi_hot_test"], centroids, 1
    )
    three = mlcd.label_informativeness(
        xtr, d["multi_hot_train"], xte, d["multi_hot_test"], centroids, 3
    )
    assert 0 < one < 1 and three > one
