"""Joint image-volume SSL: SwAV's swapped prediction against a float64 loop reference, its
stability at t = 0.01 (float32, bfloat16) and bad input; the drifting-object volume generator;
the method's three losses, masking, views and the notebook's pure widget helpers."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.synthetic import make_volumes
from contrastkit.explore import joint_image_volume as explore_jiv
from contrastkit.losses import swav_loss
from contrastkit.methods import joint_image_volume as jiv

# --------------------------------------------------------------------------------- swav_loss


def _sinkhorn_reference(s, eps, iters):
    """Sinkhorn-Knopp as SwAV writes it: Q = exp(s / eps), then alternate normalisations."""
    b, k = len(s), len(s[0])
    q = [[math.exp(s[i][j] / eps) for j in range(k)] for i in range(b)]
    for _ in range(iters):
        for j in range(k):  # each prototype's column sums to 1/K
            col = sum(q[i][j] for i in range(b))
            for i in range(b):
                q[i][j] /= col * k
        for i in range(b):  # each sample's row sums to 1/B
            row = sum(q[i])
            q[i] = [v / (row * b) for v in q[i]]
    return [[v * b for v in row] for row in q]


def _reference(z1, z2, c, t, eps=0.05, iters=3):
    """The swapped prediction, one sample and one prototype at a time, in float64."""
    nz = lambda m: torch.nn.functional.normalize(m.double(), dim=1)  # noqa: E731
    s1, s2 = (nz(z1) @ nz(c).T).tolist(), (nz(z2) @ nz(c).T).tolist()
    q1, q2 = _sinkhorn_reference(s1, eps, iters), _sinkhorn_reference(s2, eps, iters)

    def log_softmax(row):
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        return [v - lse for v in row]

    total = 0.0
    for i in range(len(s1)):
        p1 = log_softmax([v / t for v in s1[i]])
        p2 = log_softmax([v / t for v in s2[i]])
        total += -0.5 * sum(q2[i][j] * p1[j] + q1[i][j] * p2[j] for j in range(len(p1)))
    return total / len(s1)


def _inputs(n=8, k=5, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(m, d, generator=g) for m in (n, n, k))


@pytest.mark.parametrize("n,k,d", [(2, 3, 2), (8, 5, 6), (16, 10, 4)])
@pytest.mark.parametrize("t", [0.05, 0.1, 1.0])
def test_swav_matches_float64_reference(n, k, d, t):
    z1, z2, c = _inputs(n, k, d)
    got = swav_loss(z1.double(), z2.double(), c.double(), t)
    assert float(got) == pytest.approx(_reference(z1, z2, c, t), rel=1e-8)


def test_swav_symmetric_and_permutation_invariant():
    z1, z2, c = _inputs()
    a = swav_loss(z1, z2, c, 0.1)
    assert torch.allclose(a, swav_loss(z2, z1, c, 0.1), atol=1e-6)
    rows, protos = torch.randperm(8), torch.randperm(5)
    assert torch.allclose(a, swav_loss(z1[rows], z2[rows], c[protos], 0.1), atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_swav_stable_at_small_temperature(dtype):
    z1, z2, c = _inputs(n=16, k=32, d=16)
    loss = swav_loss(z1.to(dtype), z2.to(dtype), c.to(dtype), 0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    ref = _reference(z1, z2, c, 0.01)
    assert float(loss) == pytest.approx(ref, rel=5e-2 if dtype == torch.bfloat16 else 1e-4)
    zz = z1.to(dtype).requires_grad_()
    swav_loss(zz, z2.to(dtype), c.to(dtype), 0.01).backward()
    assert torch.isfinite(zz.grad.float()).all()


def test_swav_codes_carry_no_gradient_to_the_other_view():
    z1, z2, c = _inputs()
    z1, z2, c = z1.requires_grad_(), z2.requires_grad_(), c.requires_grad_()
    swav_loss(z1, z2, c, 0.1).backward()
    assert z1.grad is not None and z2.grad is not None and c.grad is not None


@pytest.mark.parametrize(
    "args,exc,name",
    [
        (lambda z1, z2, c: (z1, z2, c, 0.0), ValueError, "temperature"),
        (lambda z1, z2, c: (z1, z2, c, -1.0), ValueError, "temperature"),
        (lambda z1, z2, c: (z1, z2[:4], c, 0.1), ValueError, "z1 and z2"),
        (lambda z1, z2, c: (z1, z2, c[:, :3], 0.1), ValueError, "prototypes"),
        (lambda z1, z2, c: (z1[0], z2, c, 0.1), ValueError, "z1"),
        (lambda z1, z2, c: (z1 * float("nan"), z2, c, 0.1), ValueError, "z1"),
        (lambda z1, z2, c: (z1.tolist(), z2, c, 0.1), TypeError, "z1"),
    ],
)
def test_swav_bad_input_names_the_argument(args, exc, name):
    with pytest.raises(exc, match=name):
        swav_loss(*args(*_inputs()))


# ------------------------------------------------------------------------------ make_volumes


def test_volumes_shapes_labels_and_seed():
    v = make_volumes(40, size=10, depth=8, seed=3)
    assert v.x.shape == (40, 8, 10, 10) and v.x.dtype == torch.float32
    assert v.y.shape == v.shape.shape == (40,) and v.centre.shape == (40, 8, 2)
    assert set(v.y.tolist()) <= {0, 1, 2, 3} and set(v.shape.tolist()) <= {0, 1, 2}
    assert len(v.motions) == 4 and len(v.shapes) == 3
    assert torch.equal(v.x, make_volumes(40, size=10, depth=8, seed=3).x)
    assert not torch.equal(v.x, make_volumes(40, size=10, depth=8, seed=4).x)
    s, sy = v.slices()
    assert s.shape == (320, 1, 10, 10) and torch.equal(s[8, 0], v.x[1, 0])
    assert torch.equal(sy, v.shape.repeat_interleave(8))


def test_volumes_object_drifts_in_the_class_direction():
    v = make_volumes(200, noise=0.0, seed=0)
    move = v.centre[:, -1] - v.centre[:, 0]  # (n, 2): (rows, columns) travelled
    expected = torch.tensor([[0, 1], [0, -1], [1, 0], [-1, 0]], dtype=torch.float32)[v.y]
    assert ((move * expected).sum(1) > 2).all()  # >= 0.3 px per slice over 11 slices
    # the brightest pixel of each slice follows the centre (noise-free volumes)
    flat = v.x[:, [0, -1]].flatten(2).argmax(2)  # (n, 2)
    peak = torch.stack([flat // 12, flat % 12], -1).float()
    assert (peak - v.centre[:, [0, -1]]).abs().max() <= 2.0
    # reversing the slices of a "right" volume gives a "left"-like one: same set of slices
    assert torch.allclose(v.x.mean(1).mean(), v.x.flip(1).mean(1).mean())


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"n": 0}, "n"),
        ({"size": 6}, "size"),
        ({"depth": 0}, "depth"),
        ({"noise": -1.0}, "noise"),
        ({"speed": (0.5, 0.2)}, "speed"),
    ],
)
def test_volumes_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_volumes(**{"n": 4, **kwargs})


# -------------------------------------------------------------------------------- the method


def tiny(**kwargs):
    torch.manual_seed(0)
    return jiv.JointImageVolume(
        ck.models.MLP(64, (32,), 16),
        depth=6,
        dim=8,
        width=16,
        n_prototypes_2d=6,
        n_prototypes_3d=4,
        **kwargs,
    )


@pytest.fixture
def volumes():
    return make_volumes(8, size=8, depth=6, seed=0).x


def test_loss_is_the_weighted_sum_and_baseline_has_one_term(volumes):
    model = tiny(weights=(1.0, 2.0, 0.5))
    torch.manual_seed(1)
    loss, p = model.loss(volumes)
    assert float(loss.detach()) == pytest.approx(p["2d"] + 2 * p["3d"] + 0.5 * p["mask"], rel=1e-5)
    base = tiny(weights=(1.0, 0.0, 0.0))
    _, parts = base.loss(volumes)
    assert parts["3d"] == 0.0 and parts["mask"] == 0.0 and parts["2d"] > 0


def test_embeddings_shapes(volumes):
    model = tiny().eval()
    assert model.embed_volume(volumes).shape == (8, 16)
    assert model.embed_volume_mean(volumes).shape == (8, 16)
    assert model.embed(volumes[:, :1].reshape(8, 1, 8, 8)).shape == (8, 16)
    assert model.fuse.attention(model.slice_embeddings(volumes)).shape == (8, 7, 7)
    with pytest.raises(ValueError, match="slices"):
        model.fuse(torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="batch"):
        model.loss(torch.randn(4, 64))


def test_mean_pool_is_order_blind_and_transformer_is_not(volumes):
    model = tiny().eval()
    flipped = volumes.flip(1)
    with torch.no_grad():  # positions are near 0 at init (0.02 std): make them matter
        model.fuse.position.normal_()
    assert torch.allclose(
        model.embed_volume_mean(volumes), model.embed_volume_mean(flipped), atol=1e-5
    )
    assert not torch.allclose(model.embed_volume(volumes), model.embed_volume(flipped), atol=1e-3)


def test_masking_and_masked_prediction(volumes):
    mask = jiv.random_token_mask(5, 12, 0.25)
    assert mask.shape == (5, 12) and (mask.sum(1) == 3).all()
    assert (jiv.random_token_mask(3, 4, 0.01).sum(1) == 1).all()
    with pytest.raises(ValueError, match="ratio"):
        jiv.random_token_mask(3, 4, 1.0)
    model = tiny()
    m = jiv.random_token_mask(8, 6, 0.5)
    with torch.no_grad():
        h = model.slice_embeddings(volumes)
        loss, pred = model.masked_prediction_loss(h, m)
    assert pred.shape == (int(m.sum()), 16)
    assert float(loss.detach()) == pytest.approx(
        float((pred - h[m]).square().sum(1).mean()), rel=1e-5
    )
    assert jiv.mean_predictor_mse(h) > 0


def test_views_shift_whole_volumes(volumes):
    shifted = jiv.shift_volumes(volumes, max_shift=0)
    assert torch.equal(shifted, volumes)
    g = torch.Generator().manual_seed(0)
    shifted = jiv.shift_volumes(volumes, max_shift=2, generator=g)
    assert shifted.shape == volumes.shape
    assert jiv.volume_view(volumes).shape == volumes.shape


def test_bad_weights_and_mask_ratio():
    with pytest.raises(ValueError, match="weights"):
        tiny(weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="mask_ratio"):
        tiny(mask_ratio=0.0)


def test_training_lowers_the_loss(volumes):
    model = tiny()
    data = make_volumes(64, size=8, depth=6, seed=1).x
    hist = ck.fit(model, data, steps=40, batch_size=16, lr=3e-3, seed=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]  # logged every 10 steps
    assert torch.allclose(model.prototypes_2d.weight.norm(dim=1), torch.ones(6), atol=1e-5)


def test_widget_helpers():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(explore_jiv.slice_view(x, 1), x[1])
    with pytest.raises(ValueError, match="z"):
        explore_jiv.slice_view(x, 2)
    hist = jiv.prototype_histogram(
        torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.0, 0.1, 0.5]])
    )
    assert hist.tolist() == pytest.approx([2 / 3, 0.0, 1 / 3])
