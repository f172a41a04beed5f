"""ALBEF: the momentum-distillation ITC loss against a float64 loop, stability, bad input;
alpha = 0 is CLIP's loss; the momentum model tracks the towers; retrieval recall."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB
from contrastkit.losses import clip_loss, itc_distill_loss
from contrastkit.methods import albef as al
from contrastkit.methods import clip as cl


def _reference(a, b, a_m, b_m, tau, alpha):
    def unit(v):
        return [[x / math.sqrt(sum(y * y for y in r)) for x in r] for r in v.double().tolist()]

    a, b, a_m, b_m = unit(a), unit(b), unit(a_m), unit(b_m)
    n = len(a)

    def dot(u, v):
        return sum(x * y for x, y in zip(u, v, strict=True))

    def softmax(row):
        top = max(row)
        e = [math.exp(x - top) for x in row]
        return [x / sum(e) for x in e]

    def log_softmax(row):
        top = max(row)
        lse = top + math.log(sum(math.exp(x - top) for x in row))
        return [x - lse for x in row]

    total = 0.0
    for q, k, q_m, k_m in ((a, b, a_m, b_m), (b, a, b_m, a_m)):
        for i in range(n):
            target = softmax([dot(q_m[i], k_m[j]) / tau for j in range(n)])
            target = [alpha * t + (1 - alpha) * (j == i) for j, t in enumerate(target)]
            logp = log_softmax([dot(q[i], k[j]) / tau for j in range(n)])
            total -= sum(t * lp for t, lp in zip(target, logp, strict=True)) / n
    return total / 2


@pytest.mark.parametrize("n", [1, 3, 6])
@pytest.mark.parametrize("tau", [0.05, 0.5])
@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_matches_float64_loop(n, tau, alpha):
    g = torch.Generator().manual_seed(n)
    a, b, a_m, b_m = torch.randn(4, n, 5, generator=g, dtype=torch.float64)
    got = itc_distill_loss(a, b, a_m, b_m, tau, alpha)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(_reference(a, b, a_m, b_m, tau, alpha), rel=1e-9)


def test_alpha_zero_is_clip():
    a, b, a_m, b_m = torch.randn(4, 8, 16, generator=torch.Generator().manual_seed(0))
    assert float(itc_distill_loss(a, b, a_m, b_m, 0.1, 0.0)) == pytest.approx(
        float(clip_loss(a, b, 0.1)), rel=1e-5
    )


def test_no_gradient_through_momentum():
    a, b, a_m, b_m = (torch.randn(6, 8, requires_grad=True) for _ in range(4))
    itc_distill_loss(a, b, a_m, b_m, 0.1, 0.4).backward()
    assert a.grad is not None and a_m.grad is None and b_m.grad is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_at_small_temperature(dtype):
    a, b, a_m, b_m = (5 * torch.randn(16, 8, generator=torch.Generator().manual_seed(i))
                      for i in range(4))  # fmt: skip
    loss = itc_distill_loss(*(v.to(dtype) for v in (a, b, a_m, b_m)), 0.01, 0.4)
    assert loss.dtype == dtype and torch.isfinite(loss)


def test_bad_input_names_the_argument():
    a = torch.randn(4, 8)
    with pytest.raises(ValueError, match="alpha"):
        itc_distill_loss(a, a, a, a, 0.1, 1.5)
    with pytest.raises(ValueError, match="b_m"):
        itc_distill_loss(a, a, a, torch.randn(4, 7), 0.1, 0.4)
    with pytest.raises(ValueError, match="a_m"):
        itc_distill_loss(a, a, torch.randn(3, 8), a, 0.1, 0.4)
    with pytest.raises(ValueError, match="emperature"):
        itc_distill_loss(a, a, a, a, 0.0, 0.4)


def _small(**kwargs):
    ck.seed_everything(0)
    return al.ALBEF(
        ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16), 16, **kwargs
    )


def test_ramp():
    model = _small(alpha=0.4, ramp=10)
    assert model.current_alpha() == 0.0
    model.step.fill_(5)
    assert model.current_alpha() == pytest.approx(0.2)
    model.step.fill_(50)
    assert model.current_alpha() == pytest.approx(0.4)
    with pytest.raises(ValueError, match="alpha"):
        _small(alpha=2.0)


def test_trains_and_momentum_tracks():
    data = make_multimodal(64, 16, seed=0, modalities=("image", "text"), noisy=0.3)
    model = _small(ramp=5)
    before = [p.clone() for p in model.momentum_model.target.parameters()]
    hist = ck.fit(model, data.tensors(), steps=20, batch_size=32, lr=3e-3, device="cpu",
                  progress=False)  # fmt: skip
    assert int(model.step) == 20 and hist.loss[-1] < hist.loss[0]
    moved = [
        not torch.equal(p, q) for p, q in zip(before, model.momentum_model.target.parameters())
    ]
    assert all(moved)
    assert not any(p.requires_grad for p in model.momentum_model.parameters())
    r = al.retrieval_recall(model, *data.tensors(), ks=(1, 64))
    assert r["i2t@64"] == 1.0 and r["t2i@64"] == 1.0 and 0.0 <= r["i2t@1"] <= 1.0
