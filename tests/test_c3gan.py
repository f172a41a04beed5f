"""C3-GAN: the centroid information loss against a float64 loop reference, its stability at
t = 0.01 (float32, bfloat16) and bad input; the entropy regularisers and the widget helpers;
the method (both variants): gradients reach the right player, the loss goes down."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.losses import centroid_nce
from contrastkit.methods import c3gan

# ------------------------------------------------------------------------------ centroid_nce


def _reference(h, c, target, t):
    """-log softmax over centroids, one sample and one centroid at a time (float64)."""
    nz = lambda m: torch.nn.functional.normalize(m.double(), dim=1)  # noqa: E731
    s = (nz(h) @ nz(c).T).tolist()
    total = 0.0
    for i, row in enumerate(s):
        m = max(v / t for v in row)
        lse = m + math.log(sum(math.exp(v / t - m) for v in row))
        total += lse - row[int(target[i])] / t
    return total / len(s)


def _inputs(n=6, k=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, c = torch.randn(n, d, generator=g), torch.randn(k, d, generator=g)
    return h, c, torch.randint(0, k, (n,), generator=g)


@pytest.mark.parametrize("n,k,d", [(1, 2, 2), (6, 4, 8), (12, 10, 5)])
@pytest.mark.parametrize("t", [0.05, 0.1, 1.0])
def test_centroid_nce_matches_float64_reference(n, k, d, t):
    h, c, target = _inputs(n, k, d)
    got = centroid_nce(h.double(), c.double(), target, t)
    assert float(got) == pytest.approx(_reference(h, c, target, t), rel=1e-10)


def test_centroid_nce_permutation_invariant():
    h, c, target = _inputs()
    perm = torch.randperm(4)
    inverse = torch.argsort(perm)
    a = centroid_nce(h, c, target, 0.1)
    assert torch.allclose(a, centroid_nce(h, c[perm], inverse[target], 0.1), atol=1e-6)
    rows = torch.randperm(6)
    assert torch.allclose(a, centroid_nce(h[rows], c, target[rows], 0.1), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_centroid_nce_stable_at_small_temperature(dtype):
    h, c, target = _inputs(n=16, k=32, d=16)
    loss = centroid_nce(h.to(dtype), c.to(dtype), target, 0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    ref = _reference(h, c, target, 0.01)
    assert float(loss) == pytest.approx(ref, rel=2e-2 if dtype == torch.bfloat16 else 1e-4)
    hh = h.to(dtype).requires_grad_()
    centroid_nce(hh, c.to(dtype), target, 0.01).backward()
    assert torch.isfinite(hh.grad.float()).all()


@pytest.mark.parametrize(
    "args,exc,name",
    [
        (lambda h, c, t: (h, c, t, 0.0), ValueError, "temperature"),
        (lambda h, c, t: (h, c, t, -0.1), ValueError, "temperature"),
        (lambda h, c, t: (h, c[:, :3], t, 0.1), ValueError, "centroids"),
        (lambda h, c, t: (h, c, t[:3], 0.1), ValueError, "target"),
        (lambda h, c, t: (h, c, t + 10, 0.1), ValueError, "target"),
        (lambda h, c, t: (h, c, t.float(), 0.1), TypeError, "target"),
        (lambda h, c, t: (h[0], c, t, 0.1), ValueError, "h"),
        (lambda h, c, t: (h * float("nan"), c, t, 0.1), ValueError, "h"),
    ],
)
def test_centroid_nce_bad_input_names_the_argument(args, exc, name):
    with pytest.raises(exc, match=name):
        centroid_nce(*args(*_inputs()))


# -------------------------------------------------------------------------- pure helpers


def test_cluster_entropies():
    uniform = torch.zeros(5, 4)
    cond, marg = c3gan.cluster_entropies(uniform)
    assert float(cond) == pytest.approx(math.log(4)) and float(marg) == pytest.approx(math.log(4))
    confident_one = torch.tensor([[50.0, 0.0, 0.0]] * 4)  # all in one cluster: collapse
    cond, marg = c3gan.cluster_entropies(confident_one)
    assert float(cond) < 1e-6 and float(marg) < 1e-6
    confident_balanced = torch.eye(3) * 50
    cond, marg = c3gan.cluster_entropies(confident_balanced)
    assert float(cond) < 1e-6 and float(marg) == pytest.approx(math.log(3), rel=1e-5)
    with pytest.raises(ValueError, match="logits"):
        c3gan.cluster_entropies(torch.zeros(4))


def test_assignment_entropy_and_soft_assignments():
    assert c3gan.assignment_entropy(torch.tensor([0, 1, 2, 3]), 4) == pytest.approx(math.log(4))
    assert c3gan.assignment_entropy(torch.tensor([2, 2, 2]), 4) == 0.0
    h, c, _ = _inputs()
    p = c3gan.soft_assignments(h, c, 0.1)
    assert p.shape == (6, 4) and torch.allclose(p.sum(1), torch.ones(6))
    sharp = c3gan.soft_assignments(h, c, 0.01).max(1).values
    assert (sharp >= p.max(1).values - 1e-6).all()  # lower temperature, sharper assignments
    with pytest.raises(ValueError, match="temperature"):
        c3gan.soft_assignments(h, c, 0.0)


# ------------------------------------------------------------------------------ the method


@pytest.fixture
def x():
    return ck.data.load_digits().x[:32]


@pytest.mark.parametrize("variant", ["c3gan", "infogan"])
def test_loss_terms_and_clusters(x, variant):
    torch.manual_seed(0)
    model = c3gan.C3GAN((1, 8, 8), 5, variant=variant)
    loss, parts = model.loss(x)
    assert torch.isfinite(loss)
    expected = {"d_adv", "g_adv", "info"} | (
        {"real", "cond_entropy", "marg_entropy"} if variant == "c3gan" else set()
    )
    assert set(parts) == expected and all(isinstance(v, float) for v in parts.values())
    clusters = model.cluster(x)
    assert clusters.shape == (32,) and int(clusters.max()) < 5
    fake, codes = model.sample(7, torch.arange(7) % 5)
    assert fake.shape == (7, 1, 8, 8) and fake.min() >= 0 and fake.max() <= 1
    assert torch.equal(codes, torch.arange(7) % 5)


def test_generator_adversarial_term_does_not_move_the_discriminator(x):
    torch.manual_seed(0)
    model = c3gan.C3GAN((1, 8, 8), 5, info_weight=0.0, real_weight=0.0, entropy_weight=0.0)
    # with only the adversarial terms, D's gradient equals the gradient of its own hinge loss
    torch.manual_seed(1)
    model.loss(x)[0].backward()
    full = [p.grad.clone() for p in model.discriminator.parameters()]
    assert all(p.grad is not None for p in model.generator.parameters())  # G is trained
    model.zero_grad()
    torch.manual_seed(1)
    fake, _ = model.sample(32)
    d = model.discriminator
    hinge = torch.relu(1 - d(x)[0]).mean() + torch.relu(1 + d(fake.detach())[0]).mean()
    hinge.backward()
    for a, p in zip(full, model.discriminator.parameters()):
        g = torch.zeros_like(a) if p.grad is None else p.grad  # the info head: no hinge gradient
        assert torch.allclose(a, g, atol=1e-6)


def test_centroids_only_for_c3gan():
    assert c3gan.C3GAN(n_codes=4).centroids().shape == (4, 32)
    with pytest.raises(ValueError, match="centroids"):
        c3gan.C3GAN(n_codes=4, variant="infogan").centroids()
    with pytest.raises(ValueError, match="variant"):
        c3gan.C3GAN(variant="gan")
    with pytest.raises(ValueError, match="n_codes"):
        c3gan.C3GAN(n_codes=1)
    with pytest.raises(ValueError, match="temperature"):
        c3gan.C3GAN(temperature=0)


def test_training_learns_the_codes():
    data = ck.data.load_digits().x[:512]
    torch.manual_seed(0)
    model = c3gan.C3GAN((1, 8, 8), 4)
    ck.fit(model, data, steps=60, batch_size=64, lr=1e-3, seed=0, progress=False)
    model.eval()
    torch.manual_seed(0)
    fake, codes = model.sample(200)
    # the discriminator recovers most generated images' codes (chance: 0.25)
    assert (model.cluster(fake) == codes).float().mean() > 0.6
