"""Hydra: the gated class-pair loss, the pairings, the gate, the model and the explorer's logic."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.losses import class_pair_nce, nt_xent
from contrastkit.methods import hydra as hy


def reference(z, labels, pairs, gates, t):
    """The loss as a float64 loop over (anchor, positive) pairs, straight from the definition."""
    z = z.double()
    u = z / z.norm(dim=1, keepdim=True)
    n = len(labels)
    terms = []
    for i in range(n):
        g2 = (
            torch.ones(z.shape[1], dtype=torch.float64) if gates is None else gates[i].double() ** 2
        )
        s = [float((u[i] * g2 * u[j]).sum()) / t for j in range(n)]
        neg = [s[j] for j in range(n) if labels[j] not in (labels[i], pairs[i])]
        for p in range(n):
            if p != i and labels[p] == pairs[i]:
                m = max([s[p], *neg])
                lse = m + math.log(math.exp(s[p] - m) + sum(math.exp(v - m) for v in neg))
                terms.append(lse - s[p])
    return sum(terms) / len(terms)


def batch(n=12, d=8, c=4, seed=0, pairing="distinct"):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g)
    y = torch.arange(n) % c
    b = hy.pair_labels(y, c, pairing, generator=g)
    return z, y, b, torch.rand(n, d, generator=g)


@pytest.mark.parametrize("n,d,c", [(6, 3, 3), (12, 8, 4), (20, 16, 5)])
@pytest.mark.parametrize("t", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("gated", [True, False])
@pytest.mark.parametrize("pairing", ["distinct", "arbitrary", "identical"])
def test_matches_reference(n, d, c, t, gated, pairing):
    z, y, b, gates = batch(n, d, c, seed=n + d, pairing=pairing)
    gates = gates if gated else None
    got = float(class_pair_nce(z, y, b, gates, t))
    assert got == pytest.approx(reference(z, y.tolist(), b.tolist(), gates, t), abs=1e-5)


def test_identical_pairs_of_two_views_is_nt_xent():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    idx = torch.arange(7).repeat(2)  # each image its own class: the partner view is the positive
    got = class_pair_nce(torch.cat([z1, z2]), idx, idx, None, 0.3)
    assert float(got) == pytest.approx(float(nt_xent(z1, z2, 0.3)), abs=1e-6)


def test_gates_of_ones_are_no_gate_and_the_gate_matters():
    z, y, b, gates = batch()
    assert torch.allclose(class_pair_nce(z, y, b, torch.ones_like(z)), class_pair_nce(z, y, b))
    assert not torch.allclose(class_pair_nce(z, y, b, gates), class_pair_nce(z, y, b))


def test_invariant_to_batch_permutation():
    z, y, b, gates = batch(16, 6, 4, seed=3)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(4))
    base = class_pair_nce(z, y, b, gates)
    assert torch.allclose(class_pair_nce(z[perm], y[perm], b[perm], gates[perm]), base, atol=1e-6)


def test_no_positive_is_zero_with_grad():
    z = torch.randn(4, 3, requires_grad=True)
    loss = class_pair_nce(z, torch.arange(4), torch.full((4,), 9))  # nobody has class 9
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


def test_anchors_without_negatives_have_finite_loss_and_grads():
    # two classes, distinct pairs: every sample is of class a or b, so there are no negatives
    z = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    loss = class_pair_nce(z, y, 1 - y, torch.rand(6, 4))
    loss.backward()
    assert loss.item() == pytest.approx(0.0) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("t", [0.01, 1.0])
def test_stable_at_small_temperature(dtype, t):
    z, y, b, gates = batch(24, 16, 4, seed=5)
    z, gates = z.to(dtype).requires_grad_(True), gates.to(dtype)
    loss = class_pair_nce(z, y, b, gates, t)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss)
    assert torch.isfinite(z.grad).all()
    exact = reference(z.detach(), y.tolist(), b.tolist(), gates, t)
    tol = dict(rel=1e-2, abs=1e-2) if dtype == torch.bfloat16 else dict(rel=1e-5, abs=1e-4)
    assert float(loss.detach()) == pytest.approx(exact, **tol)


def test_bad_inputs_name_the_argument():
    z, y, b, gates = batch()
    with pytest.raises(ValueError, match="temperature"):
        class_pair_nce(z, y, b, gates, temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        class_pair_nce(z, y, b, gates, temperature=float("nan"))
    with pytest.raises(ValueError, match="z"):
        class_pair_nce(z[0], y, b)
    with pytest.raises(ValueError, match="labels"):
        class_pair_nce(z, y[:-1], b)
    with pytest.raises(ValueError, match="pair_labels"):
        class_pair_nce(z, y, b[:-1])
    with pytest.raises(ValueError, match="gates"):
        class_pair_nce(z, y, b, gates[:, :-1])
    with pytest.raises(TypeError, match="pair_labels"):
        class_pair_nce(z, y, b.float())


def test_pair_labels():
    y = torch.arange(40) % 5
    g = torch.Generator().manual_seed(0)
    assert torch.equal(hy.pair_labels(y, 5, "identical"), y)
    distinct = hy.pair_labels(y, 5, "distinct", generator=g)
    assert distinct.shape == y.shape and (distinct != y).all()
    assert distinct.min() >= 0 and distinct.max() < 5
    assert len(distinct.unique()) == 5
    arbitrary = hy.pair_labels(y, 5, "arbitrary", generator=g)
    assert torch.equal(arbitrary.sort().values, y.sort().values)  # a shuffle of the batch's labels
    # seeded: the same generator state gives the same pairs
    a1 = hy.pair_labels(y, 5, "distinct", generator=torch.Generator().manual_seed(3))
    a2 = hy.pair_labels(y, 5, "distinct", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a1, a2)
    with pytest.raises(ValueError, match="pairing"):
        hy.pair_labels(y, 5, "random")
    with pytest.raises(ValueError, match="num_classes"):
        hy.pair_labels(torch.zeros(3, dtype=torch.long), 1, "distinct")


def test_gate_is_symmetric_and_in_unit_interval():
    torch.manual_seed(0)
    gate = hy.PairGate(12, num_classes=5, label_dim=4, hidden=8)
    a, b = torch.tensor([0, 1, 2, 3, 4, 0]), torch.tensor([1, 2, 3, 4, 0, 0])
    g = gate(a, b)
    assert g.shape == (6, 12) and (g > 0).all() and (g < 1).all()
    assert torch.allclose(g, gate(b, a))


def tiny(**kwargs):
    torch.manual_seed(0)
    return hy.Hydra(
        ck.models.MLP(16, hidden=(32,), out_dim=16),
        num_classes=4,
        proj_dim=8,
        label_dim=4,
        gate_hidden=8,
        augment="digits",
        **kwargs,
    )


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(32) % 4
    x = (y[:, None].float() / 4 + 0.3 * torch.rand(32, 16, generator=g)).view(32, 1, 4, 4)
    return x, y


@pytest.mark.parametrize("pairing", ["distinct", "arbitrary", "identical"])
def test_training_lowers_the_loss(data, pairing):
    model = tiny(pairing=pairing)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(1)
    first = model.loss(data).item()
    for _ in range(30):
        loss = model.loss(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.manual_seed(1)
    assert model.loss(data).item() < first


def test_model_outputs_and_errors(data):
    model = tiny()
    x, y = data
    assert model.embed(x).shape == (32, 16)
    u = model.project(x)
    assert u.shape == (32, 8) and torch.allclose(u.norm(dim=1), torch.ones(32), atol=1e-5)
    assert model.training  # project() restores the mode
    table = model.gate_table()
    assert table.shape == (4, 4, 8) and torch.allclose(table, table.transpose(0, 1))
    assert torch.equal(tiny(gated=False).gate_table(), torch.ones(4, 4, 8))
    with pytest.raises(TypeError, match="labelled"):
        model.loss(x)
    with pytest.raises(ValueError, match="pairing"):
        tiny(pairing="random")


def test_gate_overlap():
    table = torch.rand(5, 5, 7, generator=torch.Generator().manual_seed(0))
    ov = hy.gate_overlap(table)
    assert ov.shape == (5, 5) and torch.allclose(ov, ov.T)
    assert torch.allclose(ov.diagonal(), torch.ones(5))
    with pytest.raises(ValueError, match="table"):
        hy.gate_overlap(table[0])
