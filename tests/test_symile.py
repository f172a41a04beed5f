"""Symile: the loss against a float64 loop, stability, bad input; the method learns XOR and
pairwise CLIP cannot."""

import math

import pytest
import torch
from torch import nn

import contrastkit as ck
from contrastkit.data import make_xor
from contrastkit.losses import clip_loss, symile_loss
from contrastkit.methods import symile as sy


def _mip(vectors):
    return sum(math.prod(float(v[k]) for v in vectors) for k in range(len(vectors[0])))


def _reference(zs, tau, negatives, seed=0):
    """Float64 loops: each anchor's cross-entropy over explicitly listed candidate tuples."""
    g = torch.Generator().manual_seed(seed)
    r = [torch.nn.functional.normalize(z.double(), dim=1) for z in zs]
    n, m = r[0].shape[0], len(r)
    total = 0.0
    for anchor in range(m):
        others = [r[k] for k in range(m) if k != anchor]
        if negatives == "n":
            perms = [torch.arange(n)] + [torch.randperm(n, generator=g) for _ in others[1:]]
        for i in range(n):
            if negatives == "n":
                tuples = [
                    [o[p[j]] for o, p in zip(others, perms, strict=True)] if j != i
                    else [o[i] for o in others]
                    for j in range(n)
                ]  # fmt: skip
                target = i
            else:  # every combination, row-major
                tuples, target = [[]], 0
                for o in others:
                    tuples = [t + [o[j]] for t in tuples for j in range(n)]
                    target = target * n + i
            logits = [_mip([r[anchor][i], *t]) / tau for t in tuples]
            top = max(logits)
            lse = top + math.log(sum(math.exp(x - top) for x in logits))
            total += (lse - logits[target]) / n
    return total / m


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("d", [1, 4])
@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("tau", [0.05, 0.5])
@pytest.mark.parametrize("negatives", ["n", "n2"])
def test_matches_float64_loop(n, d, m, tau, negatives):
    zs = list(torch.randn(m, n, d, generator=torch.Generator().manual_seed(n + 10 * d + m)))
    got = symile_loss(zs, tau, negatives, generator=torch.Generator().manual_seed(0))
    assert float(got) == pytest.approx(_reference(zs, tau, negatives), rel=1e-4, abs=1e-5)


def test_two_modalities_is_clip_and_batch_permutation_invariant():
    g = torch.Generator().manual_seed(1)
    a, b, c = torch.randn(3, 9, 6, generator=g)
    assert torch.allclose(symile_loss([a, b], 0.1), clip_loss(a, b, 0.1), atol=1e-6)
    perm = torch.randperm(9, generator=g)
    full = symile_loss([a, b, c], 0.2, "n2")
    assert torch.allclose(symile_loss([a[perm], b[perm], c[perm]], 0.2, "n2"), full, atol=1e-5)
    # permuting the modalities (every one is an anchor in turn) changes nothing either
    assert torch.allclose(symile_loss([c, a, b], 0.2, "n2"), full, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("negatives", ["n", "n2"])
def test_finite_at_small_temperature(dtype, negatives):
    zs = [(50 * torch.randn(16, 8)).to(dtype).requires_grad_() for _ in range(3)]
    loss = symile_loss(zs, 0.01, negatives)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(z.grad).all() for z in zs)


def test_bad_input():
    a = torch.randn(4, 3)
    with pytest.raises(ValueError, match="embeddings"):
        symile_loss([a], 0.1)
    with pytest.raises(ValueError, match=r"embeddings\[1\]"):
        symile_loss([a, torch.randn(5, 3)], 0.1)
    with pytest.raises(TypeError, match=r"embeddings\[2\]"):
        symile_loss([a, a, torch.ones(4, 3, dtype=torch.long)], 0.1)
    with pytest.raises(ValueError, match="temperature"):
        symile_loss([a, a], 0.0)
    with pytest.raises(ValueError, match="negatives"):
        symile_loss([a, a], 0.1, negatives="all")


def test_bad_construction():
    with pytest.raises(ValueError, match="encoders"):
        sy.Symile([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="negatives"):
        sy.Symile([nn.Linear(2, 2)] * 2, negatives="x")
    with pytest.raises(ValueError, match="pairs"):
        sy.PairwiseCLIP([nn.Linear(2, 2)] * 2, pairs="x")
    with pytest.raises(TypeError, match="3 tensors"):
        sy.Symile([nn.Linear(2, 2)] * 3).loss((torch.randn(4, 2),) * 2)


def test_bit_helpers():
    bits = sy.all_bit_vectors(3)
    assert bits.shape == (8, 3) and torch.equal(sy.bit_codes(bits), torch.arange(8))


def test_symile_learns_xor_and_pairwise_clip_cannot():
    train, test = make_xor(2000, d=2, p=1.0, seed=0), make_xor(500, d=2, p=1.0, seed=1)
    acc = {}
    for name in ("symile", "clip"):
        ck.seed_everything(0)
        enc = [nn.Linear(2, 8) for _ in range(3)]
        model = sy.Symile(enc) if name == "symile" else sy.PairwiseCLIP(enc, math.exp(0.3))
        ck.fit(model, train.tensors(), steps=40, batch_size=200, lr=0.1, optimizer="adamw",
               progress=False, device="cpu")  # fmt: skip
        acc[name] = sy.xor_accuracy(model, *test.tensors())
    assert acc["symile"] > 0.9 and acc["clip"] < 0.4, acc  # chance is 1/4


def test_pairwise_clip_pairs_and_scores():
    enc = [nn.Linear(2, 4) for _ in range(3)]
    assert sy.PairwiseCLIP(enc).pairs == [(0, 1), (0, 2), (1, 2)]
    anchored = sy.PairwiseCLIP(enc, pairs="anchor", anchor=1)
    assert anchored.pairs == [(0, 1), (1, 2)]
    r = [torch.nn.functional.normalize(torch.randn(5, 4), dim=1) for _ in range(3)]
    cand = torch.nn.functional.normalize(torch.randn(7, 4), dim=1)
    assert torch.allclose(anchored.candidate_scores(r, 1, cand), (r[0] + r[2]) @ cand.T)
    assert torch.allclose(anchored.candidate_scores(r, 0, cand), r[1] @ cand.T)
    mip = sy.Symile(enc).candidate_scores(r, 2, cand)
    assert torch.allclose(mip[3, 4], (r[0][3] * r[1][3] * cand[4]).sum())
