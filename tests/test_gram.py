"""GRAM: the Gramian volume (sin for two vectors, 0 for collinear, against float64 loops), the
loss against a float64 reference, stability, bad input; the method and its notebook helpers."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import contrastkit as ck
from contrastkit.losses import gram_loss, gram_volume
from contrastkit.methods import gram as gm


def _vol64(vectors):
    a = np.stack([v / np.linalg.norm(v) for v in vectors])  # (k, D)
    return math.sqrt(max(np.linalg.det(a @ a.T), 1e-8))


@pytest.mark.parametrize("theta", [0.1, 0.7, 1.3, math.pi / 2, 2.5])
def test_two_vectors_give_sine(theta):
    u = torch.tensor([[1.0, 0.0, 0.0]])
    v = torch.tensor([[math.cos(theta), math.sin(theta), 0.0]])
    assert float(gram_volume([u, v])[0]) == pytest.approx(abs(math.sin(theta)), abs=1e-5)


def test_collinear_and_orthogonal():
    x = torch.randn(4, 6)
    assert torch.allclose(gram_volume([x, 2 * x, 0.5 * x]), torch.zeros(4), atol=1e-3)
    assert torch.allclose(gram_volume([x, -x]), torch.zeros(4), atol=1e-3)  # sign-blind
    e = torch.eye(5)
    assert torch.allclose(gram_volume([e[:1], e[1:2], e[2:3], e[3:4]]), torch.ones(1))


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("n", [1, 3, 6])
@pytest.mark.parametrize("d", [3, 8])
def test_volumes_match_float64_loop(k, n, d):
    if k > d:
        pytest.skip("k vectors in fewer than k dimensions are always degenerate")
    g = torch.Generator().manual_seed(k + 10 * n + 100 * d)
    zs = list(torch.randn(k, n, d, generator=g, dtype=torch.float64))
    rows = gram_volume(zs)
    grid = gram_volume(zs, all_pairs=True)
    assert grid.shape == (n, n)
    for i in range(n):
        assert float(rows[i]) == pytest.approx(_vol64([z[i].numpy() for z in zs]), abs=1e-9)
        for j in range(n):
            ref = _vol64([zs[0][i].numpy()] + [z[j].numpy() for z in zs[1:]])
            assert float(grid[i, j]) == pytest.approx(ref, abs=1e-9)
    # anchors may be a different number of rows than the tuples (retrieval among candidates)
    more = gram_volume([torch.randn(n + 2, d, dtype=torch.float64), *zs[1:]], all_pairs=True)
    assert more.shape == (n + 2, n)


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("tau", [0.05, 0.5])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_loss_matches_float64_loop(n, tau, k):
    g = torch.Generator().manual_seed(n + k)
    t, *others = torch.randn(k + 1, n, 6, generator=g)
    vol = np.array(
        [[_vol64([t[i].numpy()] + [o[j].numpy() for o in others]) for j in range(n)]
         for i in range(n)]
    )  # fmt: skip
    logits = -vol / tau

    def ce(m):
        return np.mean([np.log(np.exp(row - row.max()).sum()) + row.max() - row[i]
                        for i, row in enumerate(m)])  # fmt: skip

    ref = (ce(logits) + ce(logits.T)) / 2
    assert float(gram_loss(t, others, tau)) == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_at_small_temperature_and_degenerate_tuples(dtype):
    t = (30 * torch.randn(16, 8)).to(dtype).requires_grad_()
    v = t.detach().clone().requires_grad_()  # collinear with t: volume 0, clamped gradient
    a = (30 * torch.randn(16, 8)).to(dtype).requires_grad_()
    loss = gram_loss(t, [v, a], 0.01)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(x.grad).all() for x in (t, v, a))
    assert torch.isfinite(gram_volume([t, v, a], all_pairs=True)).all()


def test_bad_input():
    a = torch.randn(4, 3)
    with pytest.raises(ValueError, match="embeddings"):
        gram_volume([a])
    with pytest.raises(ValueError, match=r"embeddings\[2\]"):
        gram_volume([a, a, torch.randn(5, 3)])
    with pytest.raises(ValueError, match=r"embeddings\[0\]"):
        gram_volume([torch.randn(4, 2), a], all_pairs=True)
    with pytest.raises(ValueError, match="others"):
        gram_loss(a, [])
    with pytest.raises(ValueError, match=r"others\[1\]"):
        gram_loss(a, [a, torch.randn(4, 5)])
    with pytest.raises(TypeError, match="anchor"):
        gram_loss(torch.ones(4, 3, dtype=torch.long), [a])
    with pytest.raises(ValueError, match="temperature"):
        gram_loss(a, [a], temperature=-1.0)


def test_method_loss_and_scores():
    ck.seed_everything(0)
    enc = [nn.Linear(4, 6), nn.Linear(5, 6), nn.Linear(3, 6)]
    model = gm.GRAM(enc, temperature=0.1)
    batch = (torch.randn(8, 4), torch.randn(8, 5), torch.randn(8, 3))
    z = [f(x) for f, x in zip(enc, batch, strict=True)]
    assert torch.allclose(model.loss(batch), gram_loss(z[0], z[1:], 0.1), atol=1e-6)
    scores = model.tuple_scores(batch)
    assert scores.shape == (8, 8) and (scores <= 0).all()
    assert torch.allclose(gm.tuple_scores(model, batch), scores)
    pred = model.predict(batch, 2, torch.randn(11, 3))
    assert pred.shape == (8,) and int(pred.max()) < 11
    with pytest.raises(ValueError, match="anchor"):
        gm.GRAM(enc, anchor=3)


def test_training_lowers_the_loss_and_true_tuple_volume():
    g = torch.Generator().manual_seed(0)
    latent = torch.randn(512, 4, generator=g)
    views = tuple(latent @ torch.randn(4, d, generator=g) for d in (6, 5, 7))
    ck.seed_everything(0)
    model = gm.GRAM([nn.Linear(6, 8), nn.Linear(5, 8), nn.Linear(7, 8)])
    before = float(gram_volume(model.encode(views)).mean())
    hist = ck.fit(model, views, steps=60, batch_size=128, lr=1e-2, progress=False, device="cpu")
    assert hist.loss[-1] < hist.loss[0]
    assert float(gram_volume(model.encode(views)).mean()) < before - 0.1
    assert ck.metrics.recall_at_k(model.tuple_scores(views), 5) > 0.2
