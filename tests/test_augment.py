"""Augmentations are random per sample, keep shape, range and device, and reject bad input."""

import pytest
import torch

from contrastkit.augment import PRESETS, AugmentConfig, augment, views


def test_shape_range_and_device_kept():
    x = torch.rand(16, 3, 32, 32)
    for name in PRESETS:
        out = augment(x, name)
        assert out.shape == x.shape and out.device == x.device and out.dtype == x.dtype
        if PRESETS[name].clamp:
            assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_randomness_is_per_sample():
    # the same image repeated: every copy must come out different
    x = torch.rand(1, 3, 32, 32).expand(8, -1, -1, -1).contiguous()
    out = augment(x, "strong")
    diffs = (out[:, None] - out[None]).abs().flatten(2).sum(-1)
    off = ~torch.eye(8, dtype=torch.bool)
    assert (diffs[off] > 1e-3).all()


def test_each_op_alone_changes_some_but_not_all():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    off = AugmentConfig(crop_scale=None, flip=0.0, jitter=0.0, grayscale=0.0)
    for field in (
        {"flip": 0.5},
        {"grayscale": 0.5},
        {"blur": 0.5},
        {"cutout": 0.5},
        {"jitter": 0.5},
    ):
        out = augment(x, off, **field)
        changed = (out - x).abs().flatten(1).amax(1) > 1e-4
        assert 0 < int(changed.sum()) < 64, field


def test_none_preset_is_identity_and_views_are_independent():
    x = torch.rand(4, 3, 8, 8)
    assert torch.allclose(augment(x, "none"), x, atol=1e-6)
    v1, v2 = views(x, 2)
    assert not torch.allclose(v1, v2)


def test_grey_images_work():
    x = torch.rand(8, 1, 16, 16)
    assert augment(x, "simclr").shape == x.shape


def test_seeded_augmentation_repeats():
    x = torch.rand(8, 3, 16, 16)
    torch.manual_seed(3)
    a = augment(x, "strong")
    torch.manual_seed(3)
    assert torch.equal(a, augment(x, "strong"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_stays_on_cuda():
    x = torch.rand(8, 3, 16, 16, device="cuda")
    assert augment(x, "strong").is_cuda


def test_bad_input():
    with pytest.raises(ValueError, match="x"):
        augment(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="preset"):
        augment(torch.rand(2, 3, 8, 8), "nope")
    with pytest.raises(ValueError, match="n"):
        views(torch.rand(2, 3, 8, 8), 0)
