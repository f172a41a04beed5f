"""Every loss against an obviously-correct float64 loop, plus symmetry, stability and errors."""

import math

import pytest
import torch

import contrastkit.losses as L

GRID = [(2, 3, 0.07), (5, 8, 0.5), (16, 4, 1.0), (9, 32, 0.2)]


def _unit(v):
    return v / v.norm()


def _log_softmax_at(logits: list[float], target: int) -> float:
    m = max(logits)
    return logits[target] - (m + math.log(sum(math.exp(s - m) for s in logits)))


def ref_nt_xent(z1, z2, t):
    z = [_unit(v) for v in torch.cat([z1, z2])]
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        partner = (i + n) % n2
        others = [k for k in range(n2) if k != i]
        logits = [float(z[i] @ z[k]) / t for k in others]
        total -= _log_softmax_at(logits, others.index(partner))
    return total / n2


def ref_info_nce(q, p, negs, t):
    total = 0.0
    for i in range(len(q)):
        qi = _unit(q[i])
        cands = [p[i]] + (
            [negs[j] for j in range(len(negs))]
            if negs is not None
            else [p[j] for j in range(len(p)) if j != i]
        )
        logits = [float(qi @ _unit(c)) / t for c in cands]
        total -= _log_softmax_at(logits, 0)
    return total / len(q)


def ref_supcon(z, y, t):
    z = [_unit(v) for v in z]
    terms = []
    for i in range(len(z)):
        others = [k for k in range(len(z)) if k != i]
        logits = [float(z[i] @ z[k]) / t for k in others]
        pos = [j for j, k in enumerate(others) if y[k] == y[i]]
        if pos:
            terms.append(-sum(_log_softmax_at(logits, j) for j in pos) / len(pos))
    return sum(terms) / len(terms)


def ref_clip(a, b, t):
    def one_way(x, y):
        total = 0.0
        for i in range(len(x)):
            logits = [float(_unit(x[i]) @ _unit(y[j])) / t for j in range(len(y))]
            total -= _log_softmax_at(logits, i)
        return total / len(x)

    return (one_way(a, b) + one_way(b, a)) / 2


def ref_hard(z1, z2, t, k):
    z = [_unit(v) for v in torch.cat([z1, z2])]
    n2, n = len(z), len(z) // 2
    total = 0.0
    for i in range(n2):
        partner = (i + n) % n2
        negs = sorted(
            (float(z[i] @ z[j]) for j in range(n2) if j not in (i, partner)), reverse=True
        )[:k]
        logits = [float(z[i] @ z[partner]) / t] + [s / t for s in negs]
        total -= _log_softmax_at(logits, 0)
    return total / n2


def ref_simple(z1, z2, lam):
    z = [_unit(v) for v in torch.cat([z1, z2])]
    n2, n = len(z), len(z) // 2
    total = 0.0
    for i in range(n2):
        partner = (i + n) % n2
        negs = [float(z[i] @ z[j]) for j in range(n2) if j not in (i, partner)]
        total += -float(z[i] @ z[partner]) + lam * sum(negs) / len(negs)
    return total / n2


def _pair(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(n, d, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize("n,d,t", GRID)
def test_nt_xent_matches_reference(n, d, t):
    z1, z2 = _pair(n, d)
    assert float(L.nt_xent(z1, z2, t)) == pytest.approx(ref_nt_xent(z1, z2, t), abs=1e-6)


@pytest.mark.parametrize("n,d,t", GRID)
def test_info_nce_matches_reference(n, d, t):
    q, p = _pair(n, d)
    negs = torch.randn(7, d, dtype=torch.float64)
    assert float(L.info_nce(q, p, negs, t)) == pytest.approx(ref_info_nce(q, p, negs, t), abs=1e-6)
    assert float(L.info_nce(q, p, None, t)) == pytest.approx(ref_info_nce(q, p, None, t), abs=1e-6)
    per_query = negs[None].expand(n, -1, -1)
    assert float(L.info_nce(q, p, per_query, t)) == pytest.approx(float(L.info_nce(q, p, negs, t)))


@pytest.mark.parametrize("n,d,t", GRID)
def test_supcon_matches_reference(n, d, t):
    z, _ = _pair(2 * n, d)
    y = torch.arange(2 * n) % max(1, n // 2 + 1)
    assert float(L.supcon(z, y, t)) == pytest.approx(ref_supcon(z, y.tolist(), t), abs=1e-6)


def test_supcon_with_index_labels_is_nt_xent():
    z1, z2 = _pair(6, 5)
    y = torch.arange(6).repeat(2)
    assert float(L.supcon(torch.cat([z1, z2]), y, 0.3)) == pytest.approx(
        float(L.nt_xent(z1, z2, 0.3))
    )


def test_supcon_without_positives_is_zero_with_grad():
    z = torch.randn(4, 3, requires_grad=True)
    loss = L.supcon(z, torch.arange(4))
    loss.backward()
    assert float(loss) == 0.0 and z.grad is not None


@pytest.mark.parametrize("n,d,t", GRID)
def test_clip_matches_reference(n, d, t):
    a, b = _pair(n, d)
    assert float(L.clip_loss(a, b, t)) == pytest.approx(ref_clip(a, b, t), abs=1e-6)
    assert float(L.clip_loss(a, b, torch.tensor(t, dtype=torch.float64))) == pytest.approx(
        ref_clip(a, b, t), abs=1e-6
    )


@pytest.mark.parametrize("n,d,t", [(4, 3, 0.1), (8, 5, 1.0), (16, 8, 0.5)])
@pytest.mark.parametrize("k", [1, 3])
def test_hard_contrastive_matches_reference(n, d, t, k):
    z1, z2 = _pair(n, d)
    assert float(L.hard_contrastive(z1, z2, t, k=k)) == pytest.approx(
        ref_hard(z1, z2, t, k), abs=1e-6
    )


def test_hard_contrastive_with_all_negatives_is_nt_xent():
    z1, z2 = _pair(8, 4)
    assert float(L.hard_contrastive(z1, z2, 0.5, quantile=1.0)) == pytest.approx(
        float(L.nt_xent(z1, z2, 0.5))
    )


@pytest.mark.parametrize("n,d", [(3, 2), (10, 6)])
def test_simple_matches_reference(n, d):
    z1, z2 = _pair(n, d)
    assert float(L.simple_contrastive(z1, z2, 0.7)) == pytest.approx(
        ref_simple(z1, z2, 0.7), abs=1e-6
    )


def test_simple_is_large_temperature_limit():
    # Wang & Liu: t * (L_t - log(2N - 1)) -> -s_ii + mean_j s_ij  as t -> infinity (lam = 1)
    z1, z2 = _pair(6, 4)
    t = 1e5
    limit = t * (float(L.nt_xent(z1, z2, t)) - math.log(2 * 6 - 1))
    n_neg = 2 * 6 - 2
    # the positive also sits in the denominator: weight (N'-1)/N' on s_ii, 1/N' on negatives
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    s = z @ z.T
    pos = torch.cat([s.diagonal(6), s.diagonal(-6)])
    neg_sum = s.sum(1) - s.diagonal() - pos
    expected = float((-(n_neg + 1 - 1) * pos / (n_neg + 1) + neg_sum / (n_neg + 1)).mean())
    assert limit == pytest.approx(expected, rel=1e-3)


def test_align_uniform_loss_combines_metrics():
    from contrastkit.metrics import alignment, uniformity

    z1, z2 = _pair(10, 4)
    expected = alignment(z1, z2) + 0.5 * (uniformity(z1) + uniformity(z2)) / 2
    assert float(L.align_uniform_loss(z1, z2, lam=0.5)) == pytest.approx(float(expected))


def test_negative_cosine_stop_gradient():
    p = torch.randn(5, 3, requires_grad=True)
    z = torch.randn(5, 3, requires_grad=True)
    L.negative_cosine(p, z).backward()
    assert z.grad is None and p.grad is not None
    L.negative_cosine(p, z, stop_gradient=False).backward()
    assert z.grad is not None
    assert float(L.negative_cosine(z, z)) == pytest.approx(-1.0)


# --- symmetry and invariance -------------------------------------------------------------------


def test_symmetric_in_the_views():
    z1, z2 = _pair(8, 6)
    for fn in (
        lambda a, b: L.nt_xent(a, b, 0.3),
        lambda a, b: L.clip_loss(a, b, 0.3),
        lambda a, b: L.hard_contrastive(a, b, 0.5, k=4),
        lambda a, b: L.simple_contrastive(a, b),
    ):
        assert float(fn(z1, z2)) == pytest.approx(float(fn(z2, z1)))


def test_batch_permutation_invariance():
    z1, z2 = _pair(10, 5)
    perm = torch.randperm(10)
    y = torch.arange(10) % 3
    assert float(L.nt_xent(z1[perm], z2[perm])) == pytest.approx(float(L.nt_xent(z1, z2)))
    assert float(L.clip_loss(z1[perm], z2[perm])) == pytest.approx(float(L.clip_loss(z1, z2)))
    assert float(L.info_nce(z1[perm], z2[perm])) == pytest.approx(float(L.info_nce(z1, z2)))
    assert float(L.supcon(z1[perm], y[perm])) == pytest.approx(float(L.supcon(z1, y)))


def test_scale_invariance_inputs_are_normalised():
    z1, z2 = _pair(6, 4)
    assert float(L.nt_xent(3 * z1, 0.1 * z2)) == pytest.approx(float(L.nt_xent(z1, z2)))


# --- stability ---------------------------------------------------------------------------------

LOSSES_AT = {
    "nt_xent": lambda a, b, t: L.nt_xent(a, b, t),
    "info_nce": lambda a, b, t: L.info_nce(a, b, b.flip(0), t),
    "supcon": lambda a, b, t: L.supcon(torch.cat([a, b]), torch.arange(len(a)).repeat(2) % 5, t),
    "clip": lambda a, b, t: L.clip_loss(a, b, t),
    "hard": lambda a, b, t: L.hard_contrastive(a, b, t, k=5),
}


@pytest.mark.parametrize("name", list(LOSSES_AT))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_at_small_temperature(name, dtype):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(64, 16, generator=g).to(dtype).requires_grad_()
    b = torch.randn(64, 16, generator=g).to(dtype)
    loss = LOSSES_AT[name](a, b, 0.01)
    loss.backward()
    assert torch.isfinite(loss.float()) and float(loss) > 0
    assert torch.isfinite(a.grad.float()).all()


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.0, -0.1, float("nan"), float("inf")])
def test_rejects_bad_temperature(t):
    z1, z2 = _pair(4, 3)
    for fn in (L.nt_xent, L.clip_loss, L.info_nce):
        with pytest.raises(ValueError, match="temperature"):
            fn(z1, z2, temperature=t)
    with pytest.raises(ValueError, match="temperature"):
        L.supcon(z1, torch.arange(4), temperature=t)


def test_rejects_mismatched_and_wrong_rank():
    with pytest.raises(ValueError, match="z1 and z2"):
        L.nt_xent(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="z1"):
        L.nt_xent(torch.randn(4, 3, 2), torch.randn(4, 3, 2))
    with pytest.raises(ValueError, match="a and b"):
        L.clip_loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="labels"):
        L.supcon(torch.randn(4, 3), torch.arange(5))
    with pytest.raises(ValueError, match="negatives"):
        L.info_nce(torch.randn(4, 3), torch.randn(4, 3), torch.randn(6, 2))


def test_rejects_empty_batch():
    with pytest.raises(ValueError, match="z1"):
        L.nt_xent(torch.randn(0, 3), torch.randn(0, 3))
    with pytest.raises(ValueError, match="query"):
        L.info_nce(torch.randn(0, 3), torch.randn(0, 3))


def test_hard_needs_exactly_one_selector():
    z1, z2 = _pair(4, 3)
    with pytest.raises(ValueError, match="exactly one"):
        L.hard_contrastive(z1, z2)
    with pytest.raises(ValueError, match="exactly one"):
        L.hard_contrastive(z1, z2, k=2, quantile=0.5)
    with pytest.raises(ValueError, match="quantile"):
        L.hard_contrastive(z1, z2, quantile=1.5)
