"""Pixel-to-prototype contrast: its NCE loss, the CAM pseudo-labels, the class prototypes."""

from __future__ import annotations

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.synthetic import make_part_scenes, part_presence
from contrastkit.methods import pixel_prototype as pp
from contrastkit.models import DenseConvNet


def nce_reference(pixels, labels, prototypes, valid, tau):
    e = torch.nn.functional.normalize(pixels.double(), dim=1)
    r = torch.nn.functional.normalize(prototypes.double(), dim=1)
    total = 0.0
    for i in range(len(e)):
        logits = [float(e[i] @ r[c]) / tau for c in range(len(r)) if valid[c]]
        m = max(logits)
        lse = m + math.log(sum(math.exp(v - m) for v in logits))
        total += lse - float(e[i] @ r[labels[i]]) / tau
    return total / len(e)


@pytest.mark.parametrize("p,c,d", [(7, 3, 4), (40, 6, 16)])
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nce_matches_float64_reference(p, c, d, tau):
    g = torch.Generator().manual_seed(p + c)
    pixels, protos = torch.randn(p, d, generator=g), torch.randn(c, d, generator=g)
    valid = torch.ones(c, dtype=torch.bool)
    valid[-1] = False
    labels = torch.randint(0, c - 1, (p,), generator=g)
    got = ck.losses.pixel_prototype_nce(pixels.double(), labels, protos.double(), valid, tau)
    assert float(got) == pytest.approx(nce_reference(pixels, labels, protos, valid, tau), rel=1e-9)


def test_nce_permutation_invariant():
    g = torch.Generator().manual_seed(0)
    pixels, protos = torch.randn(20, 8, generator=g), torch.randn(4, 8, generator=g)
    labels = torch.randint(0, 4, (20,), generator=g)
    perm = torch.randperm(20, generator=g)
    a = ck.losses.pixel_prototype_nce(pixels, labels, protos)
    b = ck.losses.pixel_prototype_nce(pixels[perm], labels[perm], protos)
    assert float(a) == pytest.approx(float(b), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_nce_stable_at_low_temperature(dtype):
    g = torch.Generator().manual_seed(1)
    pixels = torch.ones(16, 8) + 1e-3 * torch.randn(16, 8, generator=g)
    protos = torch.ones(3, 8) + 1e-3 * torch.randn(3, 8, generator=g)
    labels = torch.randint(0, 3, (16,), generator=g)
    loss = ck.losses.pixel_prototype_nce(
        pixels.to(dtype), labels, protos.to(dtype), temperature=0.01
    )
    assert torch.isfinite(loss)


def test_nce_names_bad_arguments():
    pixels, protos, labels = torch.zeros(4, 3), torch.ones(2, 3), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature"):
        ck.losses.pixel_prototype_nce(pixels, labels, protos, temperature=0.0)
    with pytest.raises(ValueError, match="prototypes"):
        ck.losses.pixel_prototype_nce(pixels, labels, torch.ones(2, 5))
    with pytest.raises(ValueError, match="labels"):
        ck.losses.pixel_prototype_nce(pixels, labels[:2], protos)
    with pytest.raises(ValueError, match="labels"):
        ck.losses.pixel_prototype_nce(pixels, labels + 5, protos)
    with pytest.raises(ValueError, match="valid"):
        ck.losses.pixel_prototype_nce(pixels, labels, protos, torch.tensor([False, True]))


def test_pseudo_labels_follow_threshold_and_image_labels():
    cam = torch.zeros(1, 2, 1, 3)
    cam[0, 0] = torch.tensor([[1.0, 0.5, 0.1]])
    cam[0, 1] = torch.tensor([[0.0, 0.9, 1.0]])
    both = torch.tensor([[1.0, 1.0]])
    assert pp.pseudo_labels(cam, both, 0.3).tolist() == [[[1, 2, 2]]]
    assert pp.pseudo_labels(cam, both, 0.95).tolist() == [[[1, 0, 2]]]
    only_first = torch.tensor([[1.0, 0.0]])  # class 1 absent: its CAM is ignored
    assert pp.pseudo_labels(cam, only_first, 0.3).tolist() == [[[1, 1, 0]]]
    with pytest.raises(ValueError, match="threshold"):
        pp.pseudo_labels(cam, both, 1.5)
    with pytest.raises(ValueError, match="labels"):
        pp.pseudo_labels(cam, both[:, :1], 0.3)


def test_class_prototypes_pick_confident_pixels():
    emb = torch.zeros(1, 2, 1, 4)
    emb[0, 0, 0, :2] = 1.0  # pixels 0, 1 point along e0
    emb[0, 1, 0, 2:] = 1.0  # pixels 2, 3 along e1
    cam = torch.zeros(1, 1, 1, 4)
    cam[0, 0, 0, :2] = 1.0  # the class lives on pixels 0, 1
    protos, valid = pp.class_prototypes(emb, cam, torch.ones(1, 1), top_fraction=0.5)
    assert torch.allclose(protos[1], torch.tensor([1.0, 0.0]))  # class prototype
    assert torch.allclose(protos[0], torch.tensor([0.0, 1.0]))  # background prototype
    assert valid.tolist() == [True, True]
    _, valid = pp.class_prototypes(emb, cam, torch.zeros(1, 1), top_fraction=0.5)
    assert valid.tolist() == [True, False]


def test_pixel_prototype_trains_and_segments():
    scenes = make_part_scenes(64, parts_per_scene=18, seed=0)
    labels = part_presence(scenes.ids, 12).float()
    ck.seed_everything(0)
    model = pp.PixelPrototype(DenseConvNet(8, (8, 8), kernel_size=1), 12, dim=8, warmup=1)
    hist = ck.fit(model, (scenes.x, labels), steps=3, batch_size=32, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    assert model.steps_done == 3
    seg = model.segment(scenes.x[:4], labels[:4])
    assert seg.shape == (4, 6, 6) and int(seg.max()) <= 12
    assert model.cam(scenes.x[:4]).shape == (4, 12, 6, 6)
    with pytest.raises(ValueError, match="gamma"):
        pp.PixelPrototype(DenseConvNet(8, (8,)), 12, gamma=-1.0)
