"""Metrics on configurations whose answers are known in closed form."""

import math

import pytest
import torch

import contrastkit.metrics as M


def test_alignment_known_values():
    z = torch.eye(3)
    assert float(M.alignment(z, z)) == 0.0
    assert float(M.alignment(z, -z)) == pytest.approx(4.0)  # ||a - (-a)||^2 = 4
    assert float(M.alignment(z, -z, alpha=1)) == pytest.approx(2.0)


def test_uniformity_known_values():
    # two antipodal points: ||a - b||^2 = 4, so log exp(-2 * 4) = -8
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert float(M.uniformity(z)) == pytest.approx(-8.0)
    # collapsed embeddings: every distance 0 -> log 1 = 0
    assert float(M.uniformity(torch.ones(5, 3))) == pytest.approx(0.0, abs=1e-6)
    # the orthonormal basis of R^D: every pair at squared distance 2 -> -2t
    assert float(M.uniformity(torch.eye(6), t=3)) == pytest.approx(-6.0)


def test_uniformity_has_finite_gradient_at_collapse():
    z = torch.ones(4, 3, requires_grad=True)
    M.uniformity(z).backward()
    assert torch.isfinite(z.grad).all()


def test_tolerance_known_values():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = torch.tensor([0, 0, 1, 1])
    # class 0 pair cosine 1 (2 ordered pairs), class 1 pair cosine -1 (2 ordered pairs)
    assert float(M.tolerance(z, y)) == pytest.approx(0.0)
    assert float(M.tolerance(z[:2], y[:2])) == pytest.approx(1.0)


def test_tolerance_matches_pairwise_loop():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(30, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (30,), generator=g)
    zn = torch.nn.functional.normalize(z, dim=1)
    vals = [float(zn[i] @ zn[j]) for i in range(30) for j in range(30) if i != j and y[i] == y[j]]
    assert float(M.tolerance(z, y)) == pytest.approx(sum(vals) / len(vals), abs=1e-5)


def test_tolerance_needs_a_repeated_label():
    with pytest.raises(ValueError, match="labels"):
        M.tolerance(torch.randn(3, 2), torch.arange(3))


def test_negative_weights_limits_and_sum():
    anchor = torch.tensor([1.0, 0.0])
    cands = torch.tensor([[1.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    w_small = M.negative_weights(anchor, cands, 0.01)
    w_large = M.negative_weights(anchor, cands, 1e4)
    assert float(w_small.sum()) == pytest.approx(1.0)
    assert float(w_small[0]) > 0.99  # only the hardest negative counts
    assert torch.allclose(w_large, torch.full((3,), 1 / 3), atol=1e-3)  # all equal
    assert float(M.effective_negatives(w_small)) == pytest.approx(1.0, abs=0.05)
    assert float(M.effective_negatives(w_large)) == pytest.approx(3.0, abs=1e-3)
    batch = M.negative_weights(torch.stack([anchor, -anchor]), cands, 0.5)
    assert batch.shape == (2, 3) and torch.allclose(
        batch[0], M.negative_weights(anchor, cands, 0.5)
    )


def test_knn_accuracy_on_separable_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(4) * 5
    y = torch.arange(200) % 4
    z = centres[y] + 0.1 * torch.randn(200, 4, generator=g)
    assert M.knn_accuracy(z[:100], y[:100], z[100:], y[100:], k=5) == 1.0
    shuffled = y[:100][torch.randperm(100, generator=g)]
    assert M.knn_accuracy(z[:100], shuffled, z[100:], y[100:], k=5) < 0.6


def test_linear_probe_on_separable_and_random():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    z = torch.nn.functional.one_hot(y, 3).float() + 0.05 * torch.randn(300, 3, generator=g)
    assert M.linear_probe_accuracy(z[:200], y[:200], z[200:], y[200:]) == 1.0


def test_effective_rank_and_std():
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(2000, 8, generator=g)
    assert M.effective_rank(iso) == pytest.approx(8, rel=0.05)
    line = torch.randn(100, 1, generator=g) * torch.ones(1, 8)
    assert M.effective_rank(line) == pytest.approx(1.0, abs=1e-3)
    assert M.embedding_std(iso) == pytest.approx(1 / math.sqrt(8), rel=0.1)
    assert M.embedding_std(torch.ones(10, 8)) == pytest.approx(0.0, abs=1e-6)


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="z1 and z2"):
        M.alignment(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="z"):
        M.uniformity(torch.randn(1, 2))
    with pytest.raises(ValueError, match="temperature"):
        M.negative_weights(torch.randn(2), torch.randn(3, 2), 0.0)
    with pytest.raises(ValueError, match="train_y"):
        M.knn_accuracy(torch.randn(3, 2), torch.arange(4), torch.randn(2, 2), torch.arange(2))


def test_recall_at_k_known_cases():
    sim = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.1, 0.7, 0.2]])
    assert M.recall_at_k(sim, 1) == pytest.approx(1 / 3)
    assert M.recall_at_k(sim, 2) == 1.0
    assert M.recall_at_k(torch.eye(4)) == 1.0
    assert M.recall_at_k(-torch.eye(4), 1) == 0.0 and M.recall_at_k(-torch.eye(4), 4) == 1.0
    # several relevant items: the best-ranked one counts
    rel = torch.tensor([[True, False, True], [True, False, False], [False, False, True]])
    assert M.recall_at_k(sim, 1, rel) == pytest.approx(1 / 3)  # row 0 1st, 2 2nd, 1 3rd
    assert M.recall_at_k(sim, 2, rel) == pytest.approx(2 / 3)
    # ties count in the query's favour: identical candidates cannot be told apart
    assert M.recall_at_k(torch.ones(3, 3), 1) == 1.0


def test_recall_at_k_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(20, 30, generator=g)
    rel = torch.rand(20, 30, generator=g) < 0.1
    rel[:, 0] = True
    for k in (1, 3, 10):
        hits = 0
        for q in range(20):
            top = sim[q].argsort(descending=True)[:k]
            hits += bool(rel[q, top].any())
        assert M.recall_at_k(sim, k, rel) == pytest.approx(hits / 20)


def test_retrieval_recall_both_directions():
    sims = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.0], [0.0, 0.0, 1.0]])
    r = M.retrieval_recall(sims, ks=(1,))
    assert r["q2t@1"] == pytest.approx(2 / 3) and r["t2q@1"] == pytest.approx(1.0)
    assert r["mean"] == pytest.approx(5 / 6)
    assert set(M.retrieval_recall(sims, ks=(1, 2), names=("i2t", "t2i"))) == {
        "i2t@1",
        "i2t@2",
        "t2i@1",
        "t2i@2",
        "mean",
    }


def test_recall_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        M.recall_at_k(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="relevant"):
        M.recall_at_k(torch.zeros(3, 4), 1, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="k must be"):
        M.recall_at_k(torch.eye(3), 0)
    with pytest.raises(ValueError, match="scores"):
        M.recall_at_k(torch.zeros(3))
