"""Voltron: masking blocks, the masked reconstruction loss (float64 reference, stability, bad
input), the robot-clip generator, the model, the probes and the reconstruction preview."""

import numpy as np
import pytest
import torch

import contrastkit as ck
from contrastkit.blocks import patchify, random_masking, unpatchify
from contrastkit.data.multimodal import (
    ROBOT_ACTIONS,
    ROBOT_COLOURS,
    ROBOT_SHAPES,
    make_robot_clips,
)
from contrastkit.losses import masked_reconstruction_loss
from contrastkit.methods import voltron as vt

# -- masking blocks ---------------------------------------------------------------------------


def test_patchify_round_trip_and_order():
    x = torch.rand(2, 3, 8, 8)
    p = patchify(x, 4)
    assert p.shape == (2, 4, 48)
    # patch 1 is the top-right 4x4 square, channel-major inside the patch
    assert torch.equal(p[0, 1].reshape(3, 4, 4), x[0, :, :4, 4:])
    assert torch.equal(unpatchify(p, 4), x)
    with pytest.raises(ValueError, match="patch"):
        patchify(x, 3)
    with pytest.raises(ValueError, match="x must be"):
        patchify(x[0], 4)


def test_random_masking_counts_and_seed():
    keep, mask = random_masking(5, 32, 0.75, generator=torch.Generator().manual_seed(0))
    assert keep.shape == (5, 8) and mask.shape == (5, 32) and mask.dtype == torch.bool
    assert (mask.sum(1) == 24).all()
    assert not mask.gather(1, keep).any()  # kept tokens are never masked
    assert (keep.diff(dim=1) > 0).all()  # in increasing order
    keep2, _ = random_masking(5, 32, 0.75, generator=torch.Generator().manual_seed(0))
    assert torch.equal(keep, keep2)
    with pytest.raises(ValueError, match="ratio"):
        random_masking(5, 32, 1.0)


# -- masked_reconstruction_loss ---------------------------------------------------------------


def reference_mae(pred, target, mask, norm_pix, eps=1e-6):
    """A loop in float64 NumPy over rows and patches."""
    total, count = 0.0, 0
    for i in range(pred.shape[0]):
        for p in range(pred.shape[1]):
            if not mask[i, p]:
                continue
            t = target[i, p].astype(np.float64)
            if norm_pix:
                t = (t - t.mean()) / np.sqrt(t.var(ddof=1) + eps)
            total += float(((pred[i, p] - t) ** 2).mean())
            count += 1
    return total / count


@pytest.mark.parametrize(("n", "p", "d"), [(1, 4, 3), (3, 8, 12), (5, 16, 48)])
@pytest.mark.parametrize("norm_pix", [False, True])
def test_masked_reconstruction_matches_float64_reference(n, p, d, norm_pix):
    g = torch.Generator().manual_seed(n + p + d)
    pred = torch.randn(n, p, d, generator=g, dtype=torch.float64)
    target = torch.rand(n, p, d, generator=g, dtype=torch.float64)
    mask = torch.rand(n, p, generator=g) < 0.6
    mask[0, 0] = True
    got = masked_reconstruction_loss(pred, target, mask, norm_pix=norm_pix)
    assert got.dtype == torch.float64
    want = reference_mae(pred.numpy(), target.numpy(), mask.numpy(), norm_pix)
    np.testing.assert_allclose(float(got), want, rtol=1e-10)


def test_masked_reconstruction_only_counts_masked_patches():
    pred, target = torch.zeros(2, 4, 3), torch.ones(2, 4, 3)
    mask = torch.tensor([[True, False, False, False], [False, False, False, False]])
    target[~mask] = 100.0  # errors on visible patches must not count
    assert float(masked_reconstruction_loss(pred, target, mask)) == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_masked_reconstruction_stable_in_low_precision(dtype):
    # no temperature in this loss: "stability" is constant patches under norm_pix (var = 0)
    pred = torch.randn(4, 8, 48).to(dtype)
    target = torch.full((4, 8, 48), 0.3).to(dtype)
    mask = torch.ones(4, 8, dtype=torch.bool)
    for norm in (False, True):
        loss = masked_reconstruction_loss(pred, target, mask, norm_pix=norm)
        assert loss.dtype == dtype and torch.isfinite(loss)


def test_masked_reconstruction_bad_input_names_argument():
    pred, mask = torch.rand(2, 4, 3), torch.ones(2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="pred and target"):
        masked_reconstruction_loss(pred, torch.rand(2, 4, 5), mask)
    with pytest.raises(ValueError, match="mask"):
        masked_reconstruction_loss(pred, pred, mask.float())
    with pytest.raises(ValueError, match="mask"):
        masked_reconstruction_loss(pred, pred, torch.zeros(2, 4, dtype=torch.bool))


# -- the generator ----------------------------------------------------------------------------


def test_robot_clips_seeded_shapes_labels():
    a = make_robot_clips(64, 16, seed=3)
    b = make_robot_clips(64, 16, seed=3)
    c = make_robot_clips(64, 16, seed=4)
    assert torch.equal(a.video, b.video) and not torch.equal(a.video, c.video)
    assert a.video.shape == (64, 2, 3, 16, 16) and a.tokens.shape == (64, 5)
    assert a.video.min() >= 0 and a.video.max() <= 1
    assert a.mask.shape == (64, 2, 16, 16) and a.mask.any(dim=(2, 3)).all()
    # the instruction names the labels
    for i in range(64):
        words = a.texts[i].split()
        assert words[3] == ROBOT_SHAPES[a.shape[i]]
        assert words[2] == list(ROBOT_COLOURS)[a.colour[i]]
        assert words[4] == list(ROBOT_ACTIONS)[a.action[i]]
        assert a.vocab.decode(a.tokens[i]) == a.texts[i]
    # frame 1 is frame 0 moved in the named direction, and stays in the picture
    step = a.position[:, 1] - a.position[:, 0]
    direction = torch.tensor(list(ROBOT_ACTIONS.values()))[a.action]
    assert torch.allclose(step, 0.4 * direction, atol=1e-6)
    assert a.position.abs().max() <= 0.55 + 1e-6
    # the object's pixels move with it: the mask's centre of mass follows the push
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    m = a.mask.float()
    cx = (m * xs).sum((2, 3)) / m.sum((2, 3))
    right = a.action == list(ROBOT_ACTIONS).index("right")
    assert (cx[right, 1] > cx[right, 0]).all()


def test_robot_clips_bad_arguments():
    with pytest.raises(ValueError, match="distance"):
        make_robot_clips(4, distance=1.0)
    with pytest.raises(ValueError, match="noise"):
        make_robot_clips(4, noise=-1.0)
    with pytest.raises(ValueError, match="image_size"):
        make_robot_clips(4, image_size=4)


# -- the model --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips():
    return make_robot_clips(256, 16, seed=0)


def test_voltron_terms_and_modes(clips):
    v, length = len(clips.vocab), clips.tokens.shape[1]
    torch.manual_seed(0)
    for kwargs in ({"language": False}, {"alpha": 0.0}, {"alpha": 0.5}, {"alpha": 1.0}):
        model = vt.Voltron(v, length, dim=16, heads=2, depth=1, **kwargs)
        t = model.terms(clips.video[:32], clips.tokens[:32])
        assert torch.isfinite(t["loss"])
        has_lm = kwargs.get("language", True) and kwargs.get("alpha", 0.5) > 0
        assert (float(t["lm"].detach()) > 0) == has_lm
    z = model.embed(clips.video[:8])
    assert z.shape == (8, model.out_dim) == (8, 2 * 16)
    assert model.generate(clips.video[:3], length).shape == (3, length)
    with pytest.raises(ValueError, match="alpha"):
        vt.Voltron(v, length, alpha=1.5)
    with pytest.raises(ValueError, match="mask_ratio"):
        vt.Voltron(v, length, mask_ratio=1.0)
    with pytest.raises(ValueError, match="video"):
        model.embed(clips.video[:, 0])


def test_voltron_loss_goes_down(clips):
    torch.manual_seed(0)
    model = vt.Voltron(len(clips.vocab), clips.tokens.shape[1], dim=16, heads=2, depth=1)
    hist = ck.fit(model, clips.tensors(), steps=25, batch_size=32, lr=3e-3, progress=False)
    assert np.mean(hist.loss[-5:]) < 0.8 * hist.loss[0]
    assert set(hist.metrics) == {"mae", "lm"} and len(hist.metrics["lm"]) == len(hist.loss)


def test_clip_baseline_runs(clips):
    model = vt.clip_baseline(len(clips.vocab), dim=16, heads=2, depth=1)
    loss = model.loss((clips.video[:16], clips.tokens[:16]))
    assert torch.isfinite(loss)
    assert ck.embed(model, clips.video[:10]).shape == (10, 32)
    model.train()
    assert vt.patch_features(model, clips.video[:10]).shape == (10, 32, 16)
    assert all(m.training for m in model.modules())  # patch_features restores the modes


# -- probes and the preview -------------------------------------------------------------------


def test_ridge_r2_perfect_and_useless():
    g = torch.Generator().manual_seed(0)
    z, zt = torch.randn(200, 5, generator=g), torch.randn(100, 5, generator=g)
    w = torch.randn(5, 2, generator=g)
    assert vt.ridge_r2(z, z @ w, zt, zt @ w, l2=1e-8) == pytest.approx(1.0, abs=1e-6)
    noise = vt.ridge_r2(z, torch.randn(200, 2, generator=g), zt, torch.randn(100, 2, generator=g))
    assert noise < 0.1
    with pytest.raises(ValueError, match="train_t"):
        vt.ridge_r2(z, torch.randn(200), zt, zt @ w)


def test_probe_scores_keys_and_ranges(clips):
    train, test = make_robot_clips(128, 16, seed=1), clips
    s = vt.probe_scores(
        train.video.mean((3, 4)).flatten(1), test.video.mean((3, 4)).flatten(1), train, test
    )
    assert set(s) == {"low", "action", "shape", "high"}
    assert 0 <= s["high"] <= 1 and s["high"] == pytest.approx((s["action"] + s["shape"]) / 2)
