"""OBoW: soft codes, BoW targets, online vocabulary, EMA teacher, loss goes down."""

import math

import pytest
import torch
import torch.nn.functional as F

import contrastkit as ck
from contrastkit.methods import obow


def tiny(**kwargs):
    torch.manual_seed(0)
    kwargs = {"vocab_size": 8, "momentum": 0.9, "student_view": lambda x: x[:, :, :2, :2], **kwargs}
    return obow.OBoW(ck.models.SmallConvNet(in_channels=3, widths=(8, 16)), **kwargs)


@pytest.fixture
def x():
    return torch.rand(6, 3, 4, 4, generator=torch.Generator().manual_seed(0))


def test_soft_assign_matches_a_float64_loop_and_is_stable():
    g = torch.Generator().manual_seed(1)
    f, v = torch.randn(2, 3, 4, generator=g), torch.randn(5, 4, generator=g)
    codes = obow.soft_assign(f, v, inv_delta=15.0, scale=2.0)
    assert codes.shape == (2, 3, 5)
    for n in range(2):
        for i in range(3):
            d2 = ((f[n, i].double() - v.double()) ** 2).sum(1)
            ref = torch.softmax(-15.0 * d2 / 2.0, 0)
            assert torch.allclose(codes[n, i].double(), ref, atol=1e-6)
    sharp = obow.soft_assign(f * 100, v, inv_delta=1e4, scale=1e-3)  # huge exponents
    assert torch.isfinite(sharp).all() and torch.allclose(sharp.sum(-1), torch.ones(2, 3))


def test_bag_of_words_is_max_pooled_then_l1_normalised():
    codes = torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]])  # (1, L=2, K=3)
    bow = obow.bag_of_words(codes)
    ref = torch.tensor([0.7, 0.2, 0.8]) / 1.7
    assert torch.allclose(bow[0], ref)
    assert obow.perplexity(torch.full((4, 8), 1 / 8)) == pytest.approx(8.0, rel=1e-5)
    assert obow.perplexity(F.one_hot(torch.zeros(4, dtype=torch.long), 8).float()) == pytest.approx(
        1.0, rel=1e-5
    )


def test_feature_map_of_smallconvnet_and_a_clear_error_otherwise():
    enc = ck.models.SmallConvNet(widths=(4, 8))
    fmap = obow.feature_map(enc, torch.rand(2, 3, 8, 8))
    assert fmap.shape == (2, 8, 4, 4)
    with pytest.raises(TypeError, match="encoder"):
        obow.feature_map(ck.models.MLP(4, (8,), 4), torch.rand(2, 4))


def test_first_step_fills_the_vocabulary_then_it_follows_the_teacher(x):
    model = tiny()
    assert int(model.vocabulary.filled) == 0
    with pytest.raises(RuntimeError, match="vocabulary"):
        model.teacher_bow(x)
    loss, metrics = model.loss(x)
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    assert int(model.vocabulary.filled) == 6  # one word per image, drawn from this batch
    assert float(model.scale) > 0
    model.after_step(0)
    assert int(model.vocabulary.filled) == 8  # this step's words queued (K = 8: full)
    assert 1.0 <= metrics["perplexity"] <= 8.0


def test_target_is_a_distribution_and_the_loss_is_its_cross_entropy(x):
    model = tiny()
    model.loss(x)
    model.after_step(0)
    target = model.teacher_bow(x)
    assert target.shape == (6, 8) and torch.allclose(target.sum(1), torch.ones(6))
    torch.manual_seed(3)
    loss, _ = model.loss(x)
    logits = model.predict(x[:, :, :2, :2])
    ref = -(model.teacher_bow(x) * F.log_softmax(logits, 1)).sum(1).mean()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-4)
    assert float(loss.detach()) <= math.log(8) * 1.5


def test_teacher_has_no_gradient_and_follows_the_ema(x):
    model = tiny()
    model.loss(x)[0].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.encoder.net[0].weight.grad is not None
    assert model.log_kappa.grad is not None
    before = [p.clone() for p in model.teacher.parameters()]
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    model.after_step(0)
    after, online = list(model.teacher.parameters()), list(model.encoder.parameters())
    assert all(torch.allclose(a, 0.9 * b + 0.1 * o) for a, b, o in zip(after, before, online))


def test_training_lowers_the_loss():
    g = torch.Generator().manual_seed(0)
    data = torch.rand(64, 3, 4, 4, generator=g)
    data[::2, 0] += 1.0  # two kinds of image
    model = tiny(student_view=lambda v: v[:, :, :2, :2] + 0.05 * torch.randn_like(v[:, :, :2, :2]))
    hist = ck.fit(model, data, steps=21, batch_size=32, lr=3e-3, seed=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    assert ck.embed(model, data).shape == (64, 16)


def test_image_preset_views_work():
    torch.manual_seed(0)
    model = obow.OBoW(ck.models.SmallConvNet(widths=(4, 8)), vocab_size=4)
    assert torch.isfinite(model.loss(torch.rand(4, 3, 8, 8))[0])


def test_bad_arguments_name_themselves():
    enc = ck.models.SmallConvNet(widths=(4, 8))
    with pytest.raises(ValueError, match="vocab_size"):
        obow.OBoW(enc, vocab_size=1)
    with pytest.raises(ValueError, match="inv_delta"):
        obow.OBoW(enc, inv_delta=0.0)
    with pytest.raises(ValueError, match="kappa"):
        obow.OBoW(enc, kappa=-1.0)
    with pytest.raises(ValueError, match="distance_momentum"):
        obow.OBoW(enc, distance_momentum=1.0)
