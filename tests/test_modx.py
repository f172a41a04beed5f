"""Mod-X: the similarity distillation against a float64 loop, stability, bad input; the
method's phases, the stream builder and the disorder measures."""

import copy
import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB
from contrastkit.losses import clip_loss, similarity_distillation
from contrastkit.methods import modx as mx
from contrastkit.methods.clip import CLIP, TextEncoder
from contrastkit.models import MLP


def _reference(a, b, a_old, b_old, t, filter_wrong=True):
    """Float64 loops over rows and columns: KL(old || current) of each softmax."""
    n = len(a)
    unit = [torch.nn.functional.normalize(v.double(), dim=1) for v in (a, b, a_old, b_old)]
    za, zb, oa, ob = unit
    total = 0.0
    for direction in (0, 1):
        acc = 0.0
        for i in range(n):
            if direction == 0:
                cur = [float(za[i] @ zb[j]) / t for j in range(n)]
                old = [float(oa[i] @ ob[j]) / t for j in range(n)]
            else:
                cur = [float(zb[i] @ za[j]) / t for j in range(n)]
                old = [float(ob[i] @ oa[j]) / t for j in range(n)]
            if filter_wrong and max(range(n), key=lambda j: old[j]) != i:
                continue
            lse_c = math.log(sum(math.exp(c) for c in cur))
            lse_o = math.log(sum(math.exp(o) for o in old))
            acc += sum(
                math.exp(o - lse_o) * ((o - lse_o) - (c - lse_c))
                for o, c in zip(old, cur, strict=True)
            )
        total += acc / n / 2
    return total


@pytest.mark.parametrize("n,d,t", [(2, 3, 1.0), (5, 4, 0.1), (8, 16, 0.5), (6, 2, 0.05)])
@pytest.mark.parametrize("filter_wrong", [True, False])
def test_distillation_matches_float64_reference(n, d, t, filter_wrong):
    g = torch.Generator().manual_seed(n * 100 + d)
    a, b = torch.randn(2, n, d, generator=g, dtype=torch.float64)
    a_old, b_old = a + 0.7 * torch.randn(2, n, d, generator=g, dtype=torch.float64)
    got = similarity_distillation(a, b, a_old, b_old, t, filter_wrong)
    assert float(got) == pytest.approx(_reference(a, b, a_old, b_old, t, filter_wrong), abs=1e-9)


def test_distillation_is_zero_for_the_same_model_and_symmetric_in_modalities():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 10, 8, generator=g)
    assert float(similarity_distillation(a, b, a, b, 0.1)) == pytest.approx(0, abs=1e-6)
    a_old, b_old = torch.randn(2, 10, 8, generator=g)
    ab = similarity_distillation(a, b, a_old, b_old, 0.2, False)
    ba = similarity_distillation(b, a, b_old, a_old, 0.2, False)
    assert float(ab) == pytest.approx(float(ba), rel=1e-5)
    perm = torch.randperm(10, generator=g)  # permuting the batch permutes rows and columns
    pp = similarity_distillation(a[perm], b[perm], a_old[perm], b_old[perm], 0.2, False)
    assert float(pp) == pytest.approx(float(ab), rel=1e-5)
    assert float(ab) >= 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_distillation_finite_at_low_temperature(dtype):
    g = torch.Generator().manual_seed(1)
    a, b, a_old, b_old = (v.to(dtype).requires_grad_() for v in torch.randn(4, 64, 16, generator=g))
    loss = similarity_distillation(a, b, a_old.detach(), b_old.detach(), 0.01)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss)
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


def test_distillation_bad_input_names_the_argument():
    a = torch.randn(4, 8)
    with pytest.raises(ValueError, match="a_old"):
        similarity_distillation(a, a, torch.randn(5, 8), a)
    with pytest.raises(ValueError, match="b_old"):
        similarity_distillation(a, a, a, torch.randn(4, 3))
    with pytest.raises(ValueError, match="temperature"):
        similarity_distillation(a, a, a, a, 0.0)
    with pytest.raises((TypeError, ValueError)):
        similarity_distillation(a.long(), a, a, a)


def _model(alpha=1.0):
    clip = CLIP(MLP(3 * 8 * 8, (32,), 16), TextEncoder(len(VOCAB), 16), embed_dim=8)
    return mx.ModX(clip, alpha=alpha)


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        _model(alpha=-1)
    with pytest.raises(ValueError, match="distill_temperature"):
        mx.ModX(_model().clip, distill_temperature=0)
    with pytest.raises(TypeError, match="images, tokens"):
        _model().loss(torch.zeros(4, 3, 8, 8))


def test_phases_freeze_a_teacher_and_alpha_zero_is_plain_clip():
    data = make_multimodal(64, 8, seed=0, modalities=("image", "text"))
    x, tok = data.tensors()
    model = _model(alpha=2.0)
    model.new_phase()
    assert model.old is None  # phase 0: nothing to distil
    ck.fit(model, (x, tok), steps=3, batch_size=16, device="cpu", progress=False)
    model.new_phase()
    assert model.old is not None and not any(p.requires_grad for p in model.old.parameters())
    # right after the snapshot the teacher equals the model: the distillation adds nothing
    model.eval()
    a, b = model._project(model.clip, x[:16], tok[:16])
    plain = clip_loss(a, b, model.clip.temperature)
    assert float(model.loss((x[:16], tok[:16]))) == pytest.approx(float(plain), rel=1e-4)
    baseline = _model(alpha=0.0)
    baseline.new_phase()
    baseline.new_phase()
    assert baseline.old is None


def test_distillation_keeps_the_old_similarities():
    """After a phase on new data, Mod-X's similarity matrix on that data stays closer to the
    teacher's than plain fine-tuning's does."""
    data = make_multimodal(512, 8, seed=0, modalities=("image", "text"), n_domains=2)
    first, second = data.for_domain(0).tensors(), data.for_domain(1).tensors()
    gaps = {}
    for alpha in (0.0, 20.0):
        torch.manual_seed(0)
        model = _model(alpha=alpha)
        model.new_phase()
        ck.fit(model, first, steps=30, batch_size=64, device="cpu", progress=False, seed=0)
        teacher = copy.deepcopy(model.clip).eval()
        model.new_phase()
        ck.fit(
            model, second, steps=30, batch_size=64, lr=3e-3, device="cpu", progress=False, seed=1
        )
        model.eval()
        with torch.no_grad():
            a, b = model._project(model.clip, *second[:2])
            a_old, b_old = model._project(teacher, *second[:2])
        gaps[alpha] = float(similarity_distillation(a, b, a_old, b_old, 0.1, False))
    assert gaps[20.0] < gaps[0.0]


def test_class_incremental_stream():
    data = make_multimodal(400, 8, seed=0, modalities=("image", "text"), n_domains=4)
    stream = mx.class_incremental_stream(data)
    assert len(stream) == 4
    seen = set()
    for d, part in enumerate(stream):
        assert (part.domain == d).all()
        classes = set(part.y.tolist())
        assert not classes & seen  # every phase brings new classes
        seen |= classes
    again = mx.class_incremental_stream(
        make_multimodal(400, 8, seed=0, modalities=("image", "text"), n_domains=4)
    )
    assert all(torch.equal(p["image"], q["image"]) for p, q in zip(stream, again, strict=True))


def test_disorder_measures():
    g = torch.Generator().manual_seed(0)
    img, txt = (torch.nn.functional.normalize(v, dim=1) for v in torch.randn(2, 20, 6, generator=g))
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))  # a rotation keeps every angle
    same = mx.spatial_disorder((img, txt), (img @ q, txt @ q))
    assert same["intra_rotation"] == pytest.approx(0, abs=1e-2)
    assert same["inter_deviation"] == pytest.approx(0, abs=1e-5)
    other = torch.nn.functional.normalize(torch.randn(20, 6, generator=g), dim=1)
    assert mx.spatial_disorder((img, txt), (other, txt))["intra_rotation"] > 10
