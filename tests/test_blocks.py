import pytest
import torch
from torch import nn

from contrastkit.blocks import MomentumEncoder, Queue


def test_momentum_encoder_tracks_online_and_has_no_grad():
    online = nn.Linear(3, 2)
    ema = MomentumEncoder(online, momentum=0.9)
    assert all(not p.requires_grad for p in ema.parameters())
    before = ema.target.weight.clone()
    with torch.no_grad():
        online.weight.add_(1.0)
    ema.update(online)
    assert torch.allclose(ema.target.weight, 0.9 * before + 0.1 * online.weight)
    copy = MomentumEncoder(online, momentum=0.0)
    with torch.no_grad():
        online.weight.add_(1.0)
    copy.update(online)
    assert torch.equal(copy.target.weight, online.weight)
    with pytest.raises(ValueError, match="momentum"):
        MomentumEncoder(online, 1.5)


def test_queue_is_fifo_and_normalised():
    q = Queue(size=4, dim=2)
    assert q.get().shape == (0, 2)
    q.push(torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]]))
    assert q.get().shape == (3, 2)
    assert torch.allclose(q.get().norm(dim=1), torch.ones(3))
    q.push(torch.tensor([[0.0, -1.0], [-1.0, 0.0]]))  # wraps: overwrites the oldest
    items = q.get()
    assert items.shape == (4, 2)
    assert torch.allclose(items[0], torch.tensor([-1.0, 0.0]))
    with pytest.raises(ValueError, match="keys"):
        q.push(torch.ones(2, 3))
