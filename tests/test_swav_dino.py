"""SwAV and DINO: the multi-crop swapped prediction against a float64 loop reference, its
stability at t = 0.01 (float32, bfloat16) and bad input; the prototype entropies that measure
DINO's two collapses; the method's crops, targets, centre and EMA updates.

Conventions against lightly's versions: ``swav_multicrop_loss`` matches lightly's
``SwaVLoss(temperature=0.1, sinkhorn_epsilon=0.05, sinkhorn_iterations=3)`` called with the
high-resolution crops as ``high_resolution_outputs`` and the local ones as
``low_resolution_outputs``: codes from the global crops only, every other crop predicts them,
the mean over (code, prediction) pairs. lightly takes prototype *scores* and its Sinkhorn
exponentiates them without a log-space step; ours takes embeddings and prototypes, normalises
both, and runs Sinkhorn in log space (the same numbers, no overflow at small eps).
``centred_distillation`` with the pairs stacked is lightly's ``DINOLoss`` with
``warmup_teacher_temp = teacher_temp`` (no warm-up), except that the centre is updated outside
the loss (``SwAVDINO.after_step``) rather than inside its forward.
"""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.losses import swav_loss, swav_multicrop_loss
from contrastkit.methods.swav_dino import SwAVDINO, prototype_entropies


def _sinkhorn_reference(s, eps, iters):
    """Sinkhorn-Knopp as SwAV writes it: Q = exp(s / eps), then alternate normalisations."""
    b, k = len(s), len(s[0])
    q = [[math.exp(s[i][j] / eps) for j in range(k)] for i in range(b)]
    for _ in range(iters):
        for j in range(k):
            col = sum(q[i][j] for i in range(b))
            for i in range(b):
                q[i][j] /= col * k
        for i in range(b):
            row = sum(q[i])
            q[i] = [v / (row * b) for v in q[i]]
    return [[v * b for v in row] for row in q]


def _reference(crops, c, n_global, t, eps=0.05, iters=3):
    """Multi-crop swapped prediction, one crop pair, sample and prototype at a time (float64)."""
    nz = lambda m: torch.nn.functional.normalize(m.double(), dim=-1)  # noqa: E731
    s = [(nz(z) @ nz(c).T).tolist() for z in crops]
    codes = [_sinkhorn_reference(s[g], eps, iters) for g in range(n_global)]

    def log_softmax(row):
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        return [v - lse for v in row]

    terms = []
    for g in range(n_global):
        for v in range(len(crops)):
            if v == g:
                continue
            ce = 0.0
            for i in range(len(s[v])):
                logp = log_softmax([x / t for x in s[v][i]])
                ce -= sum(codes[g][i][k] * logp[k] for k in range(len(logp)))
            terms.append(ce / len(s[v]))
    return sum(terms) / len(terms)


def _crops(v=4, n=8, d=6, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(v, n, d, generator=g), torch.randn(k, d, generator=g)


@pytest.mark.parametrize(
    "v,g,n,k,d", [(2, 2, 2, 3, 2), (4, 2, 8, 5, 6), (6, 2, 16, 10, 4), (3, 1, 5, 4, 3)]
)
@pytest.mark.parametrize("t", [0.05, 0.1, 1.0])
def test_multicrop_matches_float64_reference(v, g, n, k, d, t):
    crops, c = _crops(v, n, d, k, seed=v + n)
    got = swav_multicrop_loss(crops.double(), c.double(), n_global=g, temperature=t)
    assert float(got) == pytest.approx(_reference(crops, c, g, t), rel=1e-8)


def test_multicrop_with_two_crops_is_swav_loss_and_lists_are_stacked():
    crops, c = _crops(v=2)
    a = swav_multicrop_loss(crops.double(), c.double(), n_global=2, temperature=0.1)
    b = swav_loss(crops[0].double(), crops[1].double(), c.double(), 0.1)
    assert float(a) == pytest.approx(float(b), rel=1e-12)
    assert float(swav_multicrop_loss(list(crops.double()), c.double())) == pytest.approx(float(a))


def test_multicrop_invariances():
    crops, c = _crops(v=5)
    a = swav_multicrop_loss(crops, c)
    # permuting the local crops, the samples (same for every crop) or the prototypes: same loss
    locals_swapped = crops[[0, 1, 4, 2, 3]]
    assert torch.allclose(a, swav_multicrop_loss(locals_swapped, c), atol=1e-5)
    rows, protos = torch.randperm(8), torch.randperm(5)
    assert torch.allclose(a, swav_multicrop_loss(crops[:, rows], c[protos]), atol=1e-5)
    # the two global crops play symmetric roles
    assert torch.allclose(a, swav_multicrop_loss(crops[[1, 0, 2, 3, 4]], c), atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_multicrop_stable_at_small_temperature(dtype):
    crops, c = _crops(v=4, n=16, d=16, k=32)
    loss = swav_multicrop_loss(crops.to(dtype), c.to(dtype), temperature=0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    ref = _reference(crops, c, 2, 0.01)
    assert float(loss) == pytest.approx(ref, rel=5e-2 if dtype == torch.bfloat16 else 1e-4)
    z = crops.to(dtype).requires_grad_()
    swav_multicrop_loss(z, c.to(dtype), temperature=0.01).backward()
    assert torch.isfinite(z.grad.float()).all()


@pytest.mark.parametrize(
    "args,exc,name",
    [
        (lambda z, c: (z, c, 2, 0.0), ValueError, "temperature"),
        (lambda z, c: (z[:1], c, 1, 0.1), ValueError, "crops"),
        (lambda z, c: (z[0], c, 2, 0.1), ValueError, "crops"),
        (lambda z, c: (z, c[:, :3], 2, 0.1), ValueError, "prototypes"),
        (lambda z, c: (z, c, 0, 0.1), ValueError, "n_global"),
        (lambda z, c: (z, c, 5, 0.1), ValueError, "n_global"),
        (lambda z, c: (z * float("nan"), c, 2, 0.1), ValueError, "crops"),
        (lambda z, c: (z.tolist(), c, 2, 0.1), TypeError, "crops"),
    ],
)
def test_multicrop_bad_input_names_the_argument(args, exc, name):
    with pytest.raises(exc, match=name):
        swav_multicrop_loss(*args(*_crops()))


# ------------------------------------------------------------------------- collapse measures


def test_prototype_entropies_tell_the_two_collapses_apart():
    k = 8
    one_hot_same = torch.zeros(16, k)
    one_hot_same[:, 3] = 1
    uniform = torch.full((16, k), 1 / k)
    spread = torch.eye(k).repeat(2, 1)  # every image sure, the images spread evenly
    a, b, c = (prototype_entropies(p) for p in (one_hot_same, uniform, spread))
    assert a["entropy"] == pytest.approx(0) and a["marginal_entropy"] == pytest.approx(0)
    assert b["entropy"] == pytest.approx(math.log(k)) and b["information"] == pytest.approx(0)
    assert c["entropy"] == pytest.approx(0) and c["information"] == pytest.approx(math.log(k))
    with pytest.raises(ValueError, match="probs"):
        prototype_entropies(torch.ones(k))


# ------------------------------------------------------------------------------------ method


def _dino(**kw):
    torch.manual_seed(0)
    return SwAVDINO(ck.models.SmallConvNet(widths=(8, 16)), variant="dino", n_prototypes=8, **kw)


def test_crops_are_global_then_local_at_lower_resolution():
    x = torch.rand(4, 3, 16, 16)
    g, loc = _dino(n_local=3, local_size=8).crops(x)
    assert g.shape == (8, 3, 16, 16) and loc.shape == (12, 3, 8, 8)
    assert _dino(n_local=0).crops(x)[1] is None


def test_sharpening_and_centring_act_on_the_targets():
    m = _dino()
    s = torch.randn(32, 8)
    m.center.copy_(s.mean(0))
    sharp = prototype_entropies(m.targets(s))["entropy"]
    m.teacher_temperature = 1.0
    assert prototype_entropies(m.targets(s))["entropy"] > sharp  # higher t_t: flatter targets
    m.centring = 0.0  # without centring the centre is ignored
    assert torch.allclose(m.targets(s), torch.softmax(s / 1.0, dim=1))


def test_dino_step_moves_the_centre_and_the_teacher_only_after_the_step():
    m = _dino(n_local=1, local_size=8)
    x = torch.rand(8, 3, 16, 16)
    teacher0 = [p.clone() for p in m.teacher.parameters()]
    loss, parts = m.loss(x)
    assert torch.isfinite(loss) and set(parts) == {"entropy", "marginal_entropy", "information"}
    loss.backward()
    assert all(p.grad is None for p in m.teacher.parameters())  # gradients never reach it
    with torch.no_grad():
        for p in m.student.parameters():
            p.add_(0.1)
    assert float(m.center.abs().sum()) == 0.0
    m.after_step(0)
    assert float(m.center.abs().sum()) > 0.0
    assert any(not torch.equal(a, b) for a, b in zip(teacher0, m.teacher.parameters()))


def test_swav_renormalises_its_prototypes_and_has_no_teacher():
    torch.manual_seed(0)
    m = SwAVDINO(ck.models.SmallConvNet(widths=(8, 16)), variant="swav", n_prototypes=8, n_local=2)
    assert m.teacher is None
    loss, parts = m.loss(torch.rand(8, 3, 16, 16))
    loss.backward()
    with torch.no_grad():
        m.student.prototypes.weight.mul_(3.0)
    m.after_step(0)
    assert torch.allclose(m.student.prototypes.weight.norm(dim=1), torch.ones(8), atol=1e-6)
    q = m.distributions(torch.rand(16, 3, 16, 16))
    assert q.shape == (16, 8) and torch.allclose(q.sum(1), torch.ones(16), atol=1e-5)


@pytest.mark.parametrize(
    "kw,name",
    [
        ({"variant": "moco"}, "variant"),
        ({"n_local": -1}, "n_local"),
        ({"temperature": 0.0}, "temperature"),
        ({"teacher_temperature": -1.0}, "teacher_temperature"),
        ({"centring": 1.5}, "centring"),
        ({"momentum": 2.0}, "momentum"),
        ({"local_size": 2}, "local_size"),
    ],
)
def test_bad_arguments_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        SwAVDINO(ck.models.SmallConvNet(widths=(8, 16)), **kw)


def test_a_short_dino_run_trains_and_stays_finite():
    m = _dino(n_local=0)
    x = torch.rand(64, 3, 16, 16)
    hist = ck.fit(m, x, steps=4, batch_size=32, progress=False, device="cpu")
    assert all(math.isfinite(v) for v in hist.loss)
    assert set(hist.metrics) >= {"entropy", "information"}
