"""MoCo: the key encoder gets no gradient and follows the EMA, the queue fills, the loss falls."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.methods import moco


def tiny(**kwargs):
    torch.manual_seed(0)
    kwargs = {"proj_dim": 8, "queue_size": 16, "momentum": 0.9, **kwargs}
    return moco.MoCo(ck.models.SmallConvNet(widths=(4, 8)), **kwargs)


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_first_step_uses_in_batch_negatives_then_the_queue(x):
    model = tiny()
    assert model.queue.get().shape == (0, 8)
    loss = model.loss(x)
    # with no queued negatives the loss would be log(1) = 0; in-batch keys stand in
    assert torch.isfinite(loss) and float(loss.detach()) > 0.1
    model.after_step(0)
    assert model.queue.get().shape == (6, 8)
    torch.manual_seed(1)
    loss = model.loss(x)
    assert torch.isfinite(loss) and float(loss.detach()) > 0.1


def test_after_step_queues_this_steps_keys(x):
    model = tiny(queue_size=10)
    model.loss(x)
    keys = torch.nn.functional.normalize(model._keys, dim=1)
    model.after_step(0)
    assert torch.allclose(model.queue.get(), keys)
    model.loss(x)
    model.after_step(1)
    assert int(model.queue.filled) == 10  # 12 keys pushed into 10 slots: full, oldest gone
    model.after_step(2)  # no new loss: nothing more is queued
    assert int(model.queue.ptr) == 2


def test_symmetric_queues_both_directions(x):
    model = tiny(symmetric=True)
    loss = model.loss(x)
    assert torch.isfinite(loss)
    model.after_step(0)
    assert model.queue.get().shape == (12, 8)


def test_key_encoder_gets_no_gradient_and_follows_the_ema(x):
    model = tiny(momentum=0.9)
    key_params = list(model.key_encoder.parameters())
    assert key_params and not any(p.requires_grad for p in key_params)
    trained = {id(p) for p in model.parameters() if p.requires_grad}
    assert not trained & {id(p) for p in key_params}
    model.loss(x).backward()
    assert all(p.grad is None for p in key_params)
    assert any(p.grad is not None for p in model.encoder.parameters())
    before = [p.clone() for p in key_params]
    with torch.no_grad():
        for p in model.online.parameters():
            p.add_(1.0)
    model.after_step(0)
    for b, k, o in zip(before, key_params, model.online.parameters(), strict=True):
        assert torch.allclose(k, 0.9 * b + 0.1 * o)


def test_momentum_one_freezes_the_key_encoder():
    data = ck.make_shapes(64, image_size=8, seed=0)
    model = tiny(momentum=1.0)
    before = [p.clone() for p in model.key_encoder.parameters()]
    ck.fit(model, data.x, steps=3, batch_size=16, progress=False)
    after = list(model.key_encoder.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, after, strict=True))
    assert not all(
        torch.equal(b, p) for b, p in zip(before, model.online.parameters(), strict=True)
    ), "the query encoder should have been trained"


def test_split_keys_come_back_in_batch_order(x):
    model = tiny(key_splits=3)
    model.key_encoder.eval()  # running BN statistics: splitting must not change any key
    torch.manual_seed(0)
    split = model.keys(x)
    whole = model.key_encoder(x)
    assert torch.allclose(split, whole, atol=1e-6)


def test_queue_size_zero_uses_in_batch_negatives_only(x):
    model = tiny(queue_size=0)
    assert model.queue is None
    torch.manual_seed(3)
    loss = model.loss(x)
    # the same views and key shuffle, then the loss by hand: the other keys are the negatives
    torch.manual_seed(3)
    v1, v2 = ck.views(x, 2, "simclr")
    q = model.projector(model.encoder(v1))
    k = model.keys(v2)
    assert torch.allclose(loss, ck.info_nce(q, k, None, model.temperature))
    before = [p.clone() for p in model.key_encoder.parameters()]
    with torch.no_grad():
        for p in model.online.parameters():
            p.add_(1.0)
    model.after_step(0)  # still the EMA, nothing queued
    assert model._keys is None
    assert not all(
        torch.equal(b, p) for b, p in zip(before, model.key_encoder.parameters(), strict=True)
    )
    assert torch.isfinite(model.loss(x))


def test_embed_is_the_query_encoder(x):
    model = tiny().eval()
    assert torch.equal(model.embed(x), model.encoder(x))
    assert model.embed(x).shape == (6, 8)


def test_a_few_steps_lower_the_loss():
    data = ck.make_shapes(64, image_size=8, seed=0)
    model = tiny(queue_size=32)

    def fixed_loss():
        torch.manual_seed(123)  # the same views and key shuffle before and after
        with torch.no_grad():
            return float(model.loss(data.x[:32]))

    ck.fit(model, data.x, steps=1, batch_size=32, lr=0.0, progress=False)  # fills the queue
    before = fixed_loss()
    hist = ck.fit(model, data.x, steps=30, batch_size=32, lr=5e-3, progress=False)
    after = fixed_loss()
    assert all(np.isfinite(hist.loss))
    assert after < before - 0.05, (before, after)


def test_bad_arguments():
    with pytest.raises(ValueError, match="key_splits"):
        tiny(key_splits=0)
    with pytest.raises(ValueError, match="momentum"):
        tiny(momentum=2.0)
    with pytest.raises(ValueError, match="queue_size"):
        tiny(queue_size=-1)


# ---------------------------------------------------------------------- key_consistency


def test_key_consistency_is_the_mean_cosine_at_a_lag():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[0.0, 3.0], [0.0, 1.0]])  # row 0 turned 90 degrees, row 1 kept
    c = torch.tensor([[-1.0, 0.0], [0.0, -1.0]])
    assert moco.key_consistency([a, a, a], 1) == pytest.approx(1.0)
    assert moco.key_consistency([a, b], 1) == pytest.approx(0.5)
    # pairs (a, c) only: both rows flipped
    assert moco.key_consistency([a, b, c], 2) == pytest.approx(-1.0)
    # pairs (a, b) and (b, c): (0 + 1) / 2 and (0 - 1) / 2
    assert moco.key_consistency([a, b, c], 1) == pytest.approx(0.0)


def test_key_consistency_validates():
    a = torch.ones(3, 2)
    with pytest.raises(ValueError, match="lag"):
        moco.key_consistency([a, a], 2)
    with pytest.raises(ValueError, match="lag"):
        moco.key_consistency([a, a], 0)
    with pytest.raises(ValueError, match="shape"):
        moco.key_consistency([a, torch.ones(4, 2)], 1)
