"""G-SimCLR: the round-robin sampler, the false-negative rate, pseudo-labels, the method."""

import itertools

import pytest
import torch

import contrastkit as ck
from contrastkit.methods import g_simclr as gs
from contrastkit.methods.simclr import SimCLR


def reference_round_robin(labels, b):
    seen, rank = {}, []
    for c in labels:
        rank.append(seen.get(c, 0))
        seen[c] = rank[-1] + 1
    return sorted(range(len(labels)), key=lambda i: (rank[i], i))[:b]


@pytest.mark.parametrize("seed", range(5))
def test_one_per_label_matches_a_loop(seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 7, (40,), generator=g)
    for b in (1, 5, 7, 20, 40):
        out = gs.one_per_label(labels, b)
        assert out.tolist() == reference_round_robin(labels.tolist(), b)


def test_one_per_label_distinct_when_possible_and_balanced_otherwise():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 50, (200,), generator=g)
    b = 30
    assert len(set(labels.unique().tolist())) >= b
    out = gs.one_per_label(labels, b)
    assert len(set(labels[out].tolist())) == b  # no pseudo-label twice
    # 4 labels, batch 12: exactly 3 of each (the pool holds enough of each)
    labels = torch.arange(4).repeat(10)[torch.randperm(40, generator=g)]
    counts = torch.bincount(labels[gs.one_per_label(labels, 12)], minlength=4)
    assert counts.tolist() == [3, 3, 3, 3]
    # every label its own class: the first B positions, i.e. the random batch itself
    assert gs.one_per_label(torch.arange(10), 4).tolist() == [0, 1, 2, 3]


def test_one_per_label_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        gs.one_per_label(torch.arange(5), 6)
    with pytest.raises(ValueError, match="batch_size"):
        gs.one_per_label(torch.arange(5), 0)


def test_false_negative_rate_matches_pair_count():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    pairs = [(i, j) for i, j in itertools.permutations(range(6), 2)]
    expected = sum(int(y[i] == y[j]) for i, j in pairs) / len(pairs)
    assert gs.false_negative_rate(y) == pytest.approx(expected)
    assert gs.false_negative_rate(torch.arange(5)) == 0.0


def test_batch_fn_rates_random_guided_oracle():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    b, pool = 32, 4
    random = gs.batch_fn_rates(y, torch.arange(2000), b, pool, n_batches=100).mean()
    oracle = gs.batch_fn_rates(y, y, b, pool, n_batches=100).mean()
    floor = (b / 10 - 1) / (b - 1)
    assert abs(float(random) - 0.1) < 0.01
    assert float(oracle) < floor + 0.005 < float(random)
    again = gs.batch_fn_rates(y, y, b, pool, n_batches=100).mean()
    assert torch.equal(oracle, again)  # seeded


def test_pseudo_labels_and_dae():
    torch.manual_seed(0)
    dae = gs.DenoisingAutoencoder(16, latent=4, hidden=8)
    x = torch.rand(32, 1, 4, 4)
    loss = dae.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert dae.embed(x).shape == (32, 4)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = centres.repeat_interleave(20, 0) + 0.1 * torch.randn(60, 2)
    labels = gs.pseudo_labels(pts, 3, seed=0)
    assert labels.shape == (60,)
    for c in range(3):  # each blob is one cluster
        assert labels[20 * c : 20 * (c + 1)].unique().numel() == 1


def tiny(batch_size=4):
    torch.manual_seed(0)
    return gs.GSimCLR(SimCLR(ck.models.MLP(16, (16,), 8), proj_dim=8, augment="digits"), batch_size)


def test_loss_uses_only_the_guided_batch():
    m = tiny(batch_size=4)
    x = torch.rand(12, 1, 4, 4)
    pseudo = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 2, 3])
    keep = gs.one_per_label(pseudo, 4)  # positions 0, 2, 4, 6
    torch.manual_seed(1)
    a = m.loss((x, pseudo))
    torch.manual_seed(1)
    b = m.base.loss(x[keep])
    assert torch.allclose(a, b)
    with pytest.raises(ValueError, match="pseudo"):
        m.loss(x)


def test_wraps_an_encoder_and_rejects_others():
    m = gs.GSimCLR(ck.models.SmallConvNet(widths=(4, 8)), batch_size=8)
    assert isinstance(m.base, SimCLR) and m.encoder is m.base.encoder
    with pytest.raises(TypeError, match="base"):
        gs.GSimCLR(torch.nn.ReLU())
    with pytest.raises(ValueError, match="batch_size"):
        gs.GSimCLR(ck.models.SmallConvNet(widths=(4, 8)), batch_size=1)


def test_trains_a_few_steps():
    data = ck.load_digits()
    torch.manual_seed(0)
    m = gs.GSimCLR(SimCLR(ck.models.MLP(64, (64,), 32), proj_dim=16, augment="digits"), 32)
    pseudo = torch.arange(len(data)) % 32
    hist = ck.fit(m, (data.x, pseudo), steps=100, batch_size=128, lr=5e-3, seed=0, progress=False)
    assert all(torch.isfinite(torch.tensor(hist.loss)))
    assert sum(hist.loss[-3:]) / 3 < hist.loss[0] - 0.3  # ~4.2 -> ~3.3
    assert ck.embed(m, data.x[:10]).shape == (10, 32)
