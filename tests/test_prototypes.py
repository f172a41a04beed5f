import math

import pytest
import torch
import torch.nn.functional as F

from contrastkit.prototypes import Prototypes, kmeans, sinkhorn


def _blobs(n_per=50, k=4, d=8, spread=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(d)[:k] * 5.0  # well separated, also in angle
    x = centres.repeat_interleave(n_per, 0) + spread * torch.randn(n_per * k, d, generator=g)
    y = torch.arange(k).repeat_interleave(n_per)
    perm = torch.randperm(len(x), generator=g)
    return x[perm], y[perm]


def _same_partition(a, b):
    # equal up to a relabelling: the contingency table is a permutation matrix
    table = torch.zeros(int(a.max()) + 1, int(b.max()) + 1)
    table.index_put_((a, b), torch.ones(len(a)), accumulate=True)
    return bool(((table > 0).sum(0) == 1).all() and ((table > 0).sum(1) == 1).all())


@pytest.mark.parametrize("cosine", [True, False])
def test_kmeans_finds_well_separated_blobs_exactly(cosine):
    x, y = _blobs()
    for seed in range(5):
        c, a = kmeans(x, 4, seed=seed, cosine=cosine)
        assert c.shape == (4, 8) and a.shape == (200,) and a.dtype == torch.long
        assert _same_partition(a, y)
        if cosine:
            assert torch.allclose(c.norm(dim=1), torch.ones(4), atol=1e-5)


def test_kmeans_matches_a_loop_reference_from_the_same_init():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(60, 3, generator=g, dtype=torch.float64)
    init = x[:5].clone()
    c, a = kmeans(x, 5, iters=30, cosine=False, init=init)
    ref = init.clone()
    for _ in range(30):  # plain Lloyd, one cluster at a time
        lab = torch.stack([((x[i] - ref) ** 2).sum(1).argmin() for i in range(len(x))])
        ref = torch.stack([x[lab == j].mean(0) if (lab == j).any() else ref[j] for j in range(5)])
    assert torch.allclose(c, ref) and torch.equal(a, lab)


def test_kmeans_is_deterministic_and_seed_dependent():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(1))
    c1, a1 = kmeans(x, 7, seed=4)
    c2, a2 = kmeans(x, 7, seed=4)
    assert torch.equal(c1, c2) and torch.equal(a1, a2)
    r1, r2 = kmeans(x, 7, seed=4, init="random"), kmeans(x, 7, seed=4, init="random")
    assert torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1])
    c3, _ = kmeans(x, 7, seed=5, iters=1)
    c4, _ = kmeans(x, 7, seed=4, iters=1)
    assert not torch.equal(c3, c4)


def test_kmeans_batched_shapes_and_keeps_clusters_nonempty():
    x = torch.randn(3, 40, 4, generator=torch.Generator().manual_seed(2))
    c, a = kmeans(x, 6, seed=0)
    assert c.shape == (3, 6, 4) and a.shape == (3, 40)
    for b in range(3):
        assert len(a[b].unique()) == 6  # no empty cluster survives
        # each problem is solved on its own: re-running it from its final centroids is a fixpoint
        cb, ab = kmeans(x[b], 6, init=c[b])
        assert torch.equal(ab, a[b]) and torch.allclose(cb, c[b], atol=1e-6)
    # duplicated points, k = N: every point is its own cluster
    dup = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    c, a = kmeans(dup, 3, cosine=False)
    assert c.shape == (3, 2) and torch.isfinite(c).all()


def test_kmeans_runs_under_grad_and_returns_no_grad():
    x = torch.randn(50, 3, requires_grad=True)
    c, a = kmeans(x, 3)
    assert not c.requires_grad


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=torch.randn(10), k=2), "x"),
        (dict(x=torch.randint(0, 3, (10, 2)), k=2), "x"),
        (dict(x=torch.tensor([[float("nan"), 0.0]] * 3), k=2), "x"),
        (dict(x=torch.randn(10, 2), k=0), "k"),
        (dict(x=torch.randn(10, 2), k=11), "k"),
        (dict(x=torch.randn(10, 2), k=2, iters=0), "iters"),
        (dict(x=torch.randn(10, 2), k=2, init="bad"), "init"),
        (dict(x=torch.randn(10, 2), k=2, init=torch.randn(3, 2)), "init"),
        (dict(x=torch.randn(10, 2), k=2, seed=-1), "seed"),
    ],
)
def test_kmeans_bad_input_names_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        kmeans(**kwargs)


def _sinkhorn_reference(scores, eps, iters):
    # SwAV's published loop, in float64 (fine when scores / eps is small)
    q = torch.exp(scores.double() / eps).T  # (K, B)
    q /= q.sum()
    k, b = q.shape
    for _ in range(iters):
        q /= q.sum(1, keepdim=True)
        q /= k
        q /= q.sum(0, keepdim=True)
        q /= b
    return (q * b).T


@pytest.mark.parametrize("b, k", [(8, 3), (32, 10), (5, 7)])
@pytest.mark.parametrize("iters", [1, 3, 10])
def test_sinkhorn_matches_swav_reference_and_marginals(b, k, iters):
    scores = torch.randn(b, k, generator=torch.Generator().manual_seed(b + k), dtype=torch.float64)
    q = sinkhorn(scores, eps=0.5, iters=iters)
    assert torch.allclose(q, _sinkhorn_reference(scores, 0.5, iters), atol=1e-10)
    assert torch.allclose(q.sum(1), torch.ones(b, dtype=q.dtype))  # each sample: a distribution
    q = sinkhorn(scores, eps=0.5, iters=200)
    assert torch.allclose(q.sum(0), torch.full((k,), b / k, dtype=q.dtype), rtol=1e-6)


def test_sinkhorn_equipartitions_a_collapsed_batch():
    # every sample prefers prototype 0: softmax puts all mass there, Sinkhorn spreads it
    scores = torch.zeros(30, 3)
    scores[:, 0] = 0.9
    scores += 0.01 * torch.randn(30, 3, generator=torch.Generator().manual_seed(0))
    q = sinkhorn(scores, eps=0.05, iters=20)
    assert torch.allclose(q.sum(0), torch.full((3,), 10.0), rtol=1e-3)
    assert torch.softmax(scores / 0.05, 1).sum(0)[0] > 29


def test_sinkhorn_is_stable_at_small_eps_and_batched():
    scores = F.normalize(torch.randn(64, 16), dim=1) @ F.normalize(torch.randn(10, 16), dim=1).T
    scores[0, 0] = 1.0
    for eps in (0.01, 0.001, 1e-4):
        q = sinkhorn(scores, eps=eps, iters=3)
        assert torch.isfinite(q).all()
        assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-4)
    naive = torch.exp(scores / 1e-4)
    assert not torch.isfinite(naive).all()  # the reason for log space
    half = sinkhorn(scores.half(), eps=0.01)
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    batched = sinkhorn(torch.stack([scores, scores.flip(0)]), eps=0.05)
    assert torch.allclose(batched[0], sinkhorn(scores, eps=0.05), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scores=torch.randn(5)), "scores"),
        (dict(scores=torch.ones(3, 2, dtype=torch.long)), "scores"),
        (dict(scores=torch.tensor([[math.inf, 0.0]])), "scores"),
        (dict(scores=torch.randn(4, 3), eps=0.0), "eps"),
        (dict(scores=torch.randn(4, 3), eps=-1.0), "eps"),
        (dict(scores=torch.randn(4, 3), iters=0), "iters"),
    ],
)
def test_sinkhorn_bad_input_names_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sinkhorn(**kwargs)


def test_prototypes_give_cosines_over_temperature_and_learn():
    torch.manual_seed(0)
    protos = Prototypes(dim=4, k=3, temperature=0.1)
    z = torch.randn(5, 4)
    logits = protos(z)
    ref = F.normalize(z, dim=1) @ F.normalize(protos.weight, dim=1).T / 0.1
    assert logits.shape == (5, 3) and torch.allclose(logits, ref)
    assert logits.abs().max() <= 10.0 + 1e-5
    logits.sum().backward()
    assert protos.weight.grad is not None
    with torch.no_grad():
        protos.weight.mul_(3.0)
    protos.normalize_()
    assert torch.allclose(protos.weight.norm(dim=1), torch.ones(3))
    protos.init_from(torch.eye(4)[:3] * 2)
    assert torch.allclose(protos.weight, torch.eye(4)[:3])
    assert protos(torch.randn(2, 6, 4)).shape == (2, 6, 3)


def test_prototypes_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="dim"):
        Prototypes(0, 3)
    with pytest.raises(ValueError, match="k"):
        Prototypes(4, 0)
    with pytest.raises(ValueError, match="temperature"):
        Prototypes(4, 3, temperature=0.0)
    with pytest.raises(ValueError, match="z"):
        Prototypes(4, 3)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="centroids"):
        Prototypes(4, 3).init_from(torch.randn(2, 4))
