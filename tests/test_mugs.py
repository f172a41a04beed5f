"""Mugs: three granularities, teacher without gradients, queues and centre, loss goes down."""

import pytest
import torch
import torch.nn.functional as F

import contrastkit as ck
from contrastkit.methods import mugs


def vec_augment(x):
    return x + 0.1 * torch.randn_like(x)


def tiny(**kwargs):
    torch.manual_seed(0)
    kwargs = {"dim": 8, "n_prototypes": 6, "queue_size": 32, "momentum": 0.9, **kwargs}
    return mugs.Mugs(ck.models.MLP(5, (16,), 12), augment=vec_augment, **kwargs)


@pytest.fixture
def x():
    return torch.randn(10, 5, generator=torch.Generator().manual_seed(0))


def test_loss_is_the_weighted_sum_of_the_three_granularities(x):
    model = tiny(weights=(1.0, 2.0, 3.0))
    torch.manual_seed(1)
    loss, last = model.loss(x)
    assert set(last) == {"instance", "local_group", "group"}
    expected = last["instance"] + 2 * last["local_group"] + 3 * last["group"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    ids = tiny(weights=(1.0, 0.0, 0.0))  # instance discrimination alone: the baseline
    torch.manual_seed(1)
    loss, parts = ids.loss(x)
    assert float(loss.detach()) == pytest.approx(parts["instance"])
    assert parts["group"] == 0.0 and parts["local_group"] == 0.0


def test_group_loss_matches_a_float64_reference():
    model = tiny(teacher_temperature=0.05, student_temperature=0.1)
    model.center.copy_(torch.linspace(-0.1, 0.1, 6))
    g = torch.Generator().manual_seed(2)
    s, t = torch.rand(4, 6, generator=g) * 2 - 1, torch.rand(4, 6, generator=g) * 2 - 1
    ref = 0.0
    for i in range(4):
        target = torch.softmax((t[i].double() - model.center.double()) / 0.05, 0)
        ref += -(target * torch.log_softmax(s[i].double() / 0.1, 0)).sum() / 4
    assert float(model.group_loss(s, t)) == pytest.approx(float(ref), rel=1e-5)
    # stable with cosines of 1 and a very sharp teacher
    s = torch.ones(4, 6)
    assert torch.isfinite(model.group_loss(s, s * 0.999))


def test_teacher_has_no_gradient_and_follows_the_ema(x):
    model = tiny()
    assert all(not p.requires_grad for p in model.teacher.parameters())
    model.loss(x)[0].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    grads = [p.grad for p in model.student.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    before = [p.clone() for p in model.teacher.parameters()]
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    model.after_step(0)
    after = list(model.teacher.parameters())
    online = list(model.student.parameters())
    assert all(torch.allclose(a, 0.9 * b + 0.1 * o) for a, b, o in zip(after, before, online))


def test_queues_memory_and_centre_fill_after_a_step(x):
    model = tiny()
    assert model.memory.get().shape == (0, 12)
    assert model.neighbours(torch.randn(3, 12)).shape == (3, 0, 12)  # nothing to aggregate yet
    model.loss(x)
    model.after_step(0)
    assert model.instance_queue.get().shape == (20, 8)  # both views' keys
    assert model.local_group_queue.get().shape == (20, 8)
    assert model.memory.get().shape == (20, 12)
    assert model.center.abs().sum() > 0
    nb = model.neighbours(model.memory.get()[:3] * 5.0)
    assert nb.shape == (3, 4, 12)
    assert torch.allclose(nb[:, 0], model.memory.get()[:3])  # a memory entry is its own nearest
    model.after_step(1)  # no new loss: nothing more is queued
    assert int(model.memory.ptr) == 20


def test_local_group_aggregator_uses_the_neighbours():
    torch.manual_seed(0)
    agg = mugs.LocalGroupAggregator(6, out_dim=4, width=8).eval()
    h = torch.randn(3, 6)
    nb = torch.randn(3, 2, 6)
    alone, with_nb = agg(h, nb[:, :0]), agg(h, nb)
    assert alone.shape == with_nb.shape == (3, 4)
    assert not torch.allclose(alone, with_nb)


def test_training_lowers_the_loss_and_assigns_groups():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(3, 5, generator=g)
    data = centres[torch.arange(96) % 3] + 0.3 * torch.randn(96, 5, generator=g)
    model = tiny()
    hist = ck.fit(model, data, steps=31, batch_size=32, lr=3e-3, seed=0, progress=False)
    # logged every 10 steps; from step 10 on the queue is full, so the losses are comparable
    assert hist.step[1] == 10 and hist.loss[-1] < hist.loss[1]
    groups = model.assign(data)
    assert groups.shape == (96,) and groups.dtype == torch.long
    z = F.normalize(ck.embed(model, data), dim=1)
    assert torch.isfinite(z).all()


def test_images_work_with_an_augment_preset():
    torch.manual_seed(0)
    model = mugs.Mugs(ck.models.SmallConvNet(widths=(4, 8)), dim=8, n_prototypes=4, queue_size=16)
    x = torch.rand(4, 3, 8, 8)
    assert torch.isfinite(model.loss(x)[0])
    assert model.embed(x).shape == (4, 8)


def test_bad_arguments_name_themselves():
    enc = ck.models.MLP(5, (8,), 4)
    with pytest.raises(ValueError, match="weights"):
        mugs.Mugs(enc, weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="weights"):
        mugs.Mugs(enc, weights=(1.0, -1.0, 0.0))
    with pytest.raises(ValueError, match="teacher_temperature"):
        mugs.Mugs(enc, teacher_temperature=0.0)
    with pytest.raises(ValueError, match="n_neighbours"):
        mugs.Mugs(enc, n_neighbours=-1)
    with pytest.raises(ValueError, match="center_momentum"):
        mugs.Mugs(enc, center_momentum=1.0)
