"""MoCo: the key encoder gets no gradient and follows the EMA, the queue fills, the loss falls."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.methods import REGISTRY, moco


def tiny(**kwargs):
    torch.manual_seed(0)
    kwargs = {"proj_dim": 8, "queue_size": 16, "momentum": 0.9, **kwargs}
    return moco.MoCo(ck.models.SmallConvNet(widths=(4, 8)), **kwargs)


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_registered():
    assert REGISTRY["moco"] is moco.MoCo


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
    with pytest.raises(ValueError, match="size"):
        tiny(queue_size=0)


# ---------------------------------------------------------------------- explorer_state


def test_explorer_counts_batches_and_their_decay():
    s = moco.explorer_state(100, 32, 0.5, {(100, 0.5): 0.7, (32, 0.5): 0.6, (100, 0.0): 0.1})
    assert s["batches"] == 4 and s["age"] == [1, 2, 3, 4] and s["oldest"] == 4
    assert s["kept"] == [0.5, 0.25, 0.125, 0.0625] and s["oldest_kept"] == 0.0625
    assert s["horizon"] == 2.0 and s["knn"] == 0.7
    assert moco.explorer_state(100, 32, 0.0, {(100, 0.0): 0.1})["knn"] == 0.1
    assert moco.explorer_state(100, 32, 0.9, {(100, 0.0): 0.1})["knn"] is None
    assert moco.explorer_state(7, 32, 0.5)["knn"] is None


def test_explorer_momentum_extremes():
    frozen = moco.explorer_state(64, 32, 1.0)
    assert frozen["kept"] == [1.0, 1.0] and frozen["horizon"] == float("inf")
    copy = moco.explorer_state(64, 32, 0.0)
    assert copy["kept"] == [0.0, 0.0] and copy["horizon"] == 1.0
    slow, fast = moco.explorer_state(1024, 32, 0.99), moco.explorer_state(1024, 32, 0.9)
    assert slow["oldest_kept"] > 0.7 > 0.05 > fast["oldest_kept"]


def test_explorer_validates():
    with pytest.raises(ValueError, match="queue_size"):
        moco.explorer_state(0, 32, 0.9)
    with pytest.raises(ValueError, match="momentum"):
        moco.explorer_state(64, 32, 1.5)
