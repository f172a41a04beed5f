"""BLTO: the trigger, the outer loss, poisoning, the measures, the bi-level loop."""

import math

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.methods import blto as bl


def encoder():
    return ck.models.SmallConvNet(widths=(4, 8))


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


# -- the outer loss ----------------------------------------------------------------------------


def reference_alignment(z: np.ndarray, t: np.ndarray) -> float:
    """float64 loop: -mean_i cos(z_i, t)."""
    total = 0.0
    for row in z:
        total += float(row @ t) / (np.linalg.norm(row) * np.linalg.norm(t))
    return -total / len(z)


@pytest.mark.parametrize("n,d", [(1, 2), (5, 3), (17, 16)])
def test_alignment_loss_matches_float64_reference(n, d):
    g = torch.Generator().manual_seed(n * d)
    z, t = (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(d, generator=g, dtype=torch.float64),
    )
    got = bl.target_alignment_loss(z, t)
    assert got.dtype == torch.float64
    assert math.isclose(
        float(got), reference_alignment(z.numpy(), t.numpy()), rel_tol=1e-10, abs_tol=1e-12
    )


def test_alignment_loss_invariances():
    g = torch.Generator().manual_seed(3)
    z, t = torch.randn(7, 5, generator=g), torch.randn(5, generator=g)
    base = bl.target_alignment_loss(z, t)
    assert torch.allclose(bl.target_alignment_loss(z[torch.randperm(7, generator=g)], t), base)
    assert torch.allclose(bl.target_alignment_loss(3.0 * z, 0.5 * t), base)  # scale-free
    assert torch.allclose(bl.target_alignment_loss(t[None].repeat(2, 1), t), torch.tensor(-1.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_alignment_loss_stable_in_low_precision(dtype):
    # there is no temperature; the stress test is huge and tiny norms, the analogue of tau=0.01
    g = torch.Generator().manual_seed(0)
    z, t = torch.randn(64, 32, generator=g), torch.randn(32, generator=g)
    ref = bl.target_alignment_loss(z.double(), t.double())
    for scale in (1e-3, 1.0, 1e3):
        got = bl.target_alignment_loss((scale * z).to(dtype), (scale * t).to(dtype))
        assert torch.isfinite(got)
        assert abs(float(got) - float(ref)) < (1e-5 if dtype == torch.float32 else 2e-2)
    zg = (100 * z).to(dtype).requires_grad_(True)
    bl.target_alignment_loss(zg, t.to(dtype)).backward()
    assert torch.isfinite(zg.grad).all()


def test_alignment_loss_bad_input_names_argument():
    with pytest.raises(ValueError, match="z must"):
        bl.target_alignment_loss(torch.randn(5), torch.randn(5))
    with pytest.raises(ValueError, match="target must"):
        bl.target_alignment_loss(torch.randn(4, 5), torch.randn(3))


# -- triggers and poisoning ----------------------------------------------------------------------


def test_trigger_generator_budget_and_shapes(x):
    gen = bl.TriggerGenerator(8 / 255, image_size=8)
    assert torch.equal(gen(x), x)  # starts as no trigger
    with torch.no_grad():
        gen.pattern.normal_(0, 5)
    out = gen(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert (out - x).abs().max() <= 8 / 255 + 1e-6
    assert (gen(x, eps=2 / 255) - x).abs().max() <= 2 / 255 + 1e-6
    out.sum().backward()
    assert gen.pattern.grad is not None and gen.pattern.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="eps"):
        bl.TriggerGenerator(0.0, 8)
    with pytest.raises(ValueError, match="x must"):
        gen(torch.rand(2, 3, 4, 4))


def test_fixed_triggers(x):
    p = bl.patch_trigger(x, size=3)
    assert torch.equal(p[..., :5, :], x[..., :5, :])  # only the corner changes
    assert set(p[..., -3:, -3:].unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="size"):
        bl.patch_trigger(x, size=9)
    r1, r2 = bl.pattern_trigger(x, 0.1, seed=1), bl.pattern_trigger(x, 0.1, seed=1)
    assert torch.equal(r1, r2)  # seeded
    assert (r1 - x).abs().max() <= 0.1 + 1e-6


def test_poison_dataset_rate_target_and_seed():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(200, 3, 8, 8, generator=g), torch.arange(200) % 4
    out, idx = bl.poison_dataset(x, y, target=2, rate=0.05, trigger=bl.patch_trigger, seed=0)
    assert idx.numel() == 10 and (y[idx] == 2).all()
    changed = (out != x).flatten(1).any(1)
    assert changed.sum() == 10 and changed[idx].all()
    _, idx2 = bl.poison_dataset(x, y, target=2, rate=0.05, trigger=bl.patch_trigger, seed=0)
    assert torch.equal(idx, idx2)
    with pytest.raises(ValueError, match="rate"):
        bl.poison_dataset(x, y, 2, 1.5, bl.patch_trigger)
    with pytest.raises(ValueError, match="rate"):
        bl.poison_dataset(x, y, 2, 0.5, bl.patch_trigger)  # more than the target class holds


def test_attack_success_rate():
    y = torch.tensor([0, 1, 2, 3, 1])
    pred = torch.tensor([0, 0, 0, 3, 2])
    assert bl.attack_success_rate(pred, y, target=0) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="same shape"):
        bl.attack_success_rate(pred[:3], y, 0)
    with pytest.raises(ValueError, match="target"):
        bl.attack_success_rate(torch.zeros(3), torch.zeros(3), 0)


def test_blur_filter(x):
    assert torch.equal(bl.blur_filter(x, 0.0), x)
    b = bl.blur_filter(x, 1.0)
    assert b.shape == x.shape
    assert torch.allclose(b.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.05)  # roughly preserved
    assert b.var() < x.var()  # smoother
    const = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(bl.blur_filter(const, 0.7), const)
    with pytest.raises(ValueError, match="sigma"):
        bl.blur_filter(x, -1.0)


# -- measures and the explorer -------------------------------------------------------------------


def test_target_shift_sign_and_mode():
    enc = torch.nn.Identity()
    enc.training = True
    x_all = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    x_target, x_others = x_all[:1], x_all[1:2]
    towards = torch.tensor([[1.0, 0.2]])
    away = torch.tensor([[0.0, 1.0]])
    assert bl.target_shift(enc, x_others, towards, x_target, x_all) > 0
    assert bl.target_shift(enc, x_others, away, x_target, x_all) == pytest.approx(0.0)
    assert enc.training  # restored
    with pytest.raises(ValueError, match="x_triggered"):
        bl.target_shift(enc, x_others, x_all, x_target, x_all)


# -- the bi-level loop ---------------------------------------------------------------------------


def test_blto_trains_surrogate_and_moves_only_the_trigger_in_outer_phases():
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.rand(64, 3, 8, 8, generator=g), torch.arange(64) % 4
    torch.manual_seed(0)
    attack = bl.BLTO(
        encoder(),
        reference=(xs, ys),
        target=0,
        eps=0.1,
        rate=0.05,
        inner_steps=2,
        outer_steps=2,
        outer_batch=16,
        image_size=8,
        proj_dim=8,
    )
    enc_before = [p.clone() for p in attack.encoder.parameters()]
    hist = ck.fit(attack, (xs, ys), steps=4, batch_size=16, progress=False)
    assert len(hist.loss) >= 1 and all(np.isfinite(hist.loss))
    assert len(attack.outer_history) == 2  # one outer phase per 2 inner steps
    assert attack.generator.pattern.abs().sum() > 0  # the trigger moved
    assert any(
        not torch.equal(a, b) for a, b in zip(enc_before, attack.encoder.parameters(), strict=True)
    )
    # an outer phase leaves the surrogate untouched
    enc_mid = [p.clone() for p in attack.encoder.parameters()]
    attack.outer_phase()
    assert all(torch.equal(a, b) for a, b in zip(enc_mid, attack.encoder.parameters(), strict=True))
    assert all(p.requires_grad for p in attack.encoder.parameters())
    assert attack.embed(xs[:3]).shape == (3, 8)


def test_blto_bad_arguments():
    with pytest.raises(ValueError, match="inner_steps"):
        bl.BLTO(encoder(), inner_steps=0)
    with pytest.raises(ValueError, match="rate"):
        bl.BLTO(encoder(), rate=0.0)
    with pytest.raises(ValueError, match="reference"):
        bl.BLTO(encoder(), image_size=8).outer_phase()
